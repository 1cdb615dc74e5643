"""visadapt: adapt pretrained vision and vision-language models.

Importing the package is light: subpackages (``visadapt.adapters``, ``visadapt.backbones``, ...) are imported
when used, and optional dependencies (open_clip, segment-anything, diffusers) only by the code that needs them.
"""
__version__ = "0.1.0"
