"""The Gradio demo for personalized generation (``tools/demo.py``): a Train tab that personalizes the model on a
subject in the background and saves an ordinary run directory, a Generate tab over the base model and every
trained subject (two at once with weights), and a Video tab that tunes SimDA or Tune-A-Video on one clip and edits
it with a prompt. Needs ``pip install "visadapt[demo,diffusion,video]"``."""
