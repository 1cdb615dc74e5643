"""The Gradio demo for personalized generation (``tools/demo.py``): a Train tab that personalizes the model on a
subject in the background and saves an ordinary run directory, and a Generate tab over the base model and every
trained subject (two at once with weights). Needs ``pip install "visadapt[demo,diffusion]"``."""
