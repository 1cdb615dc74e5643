"""Backbone wrappers: upstream models (timm, open_clip, segment-anything, diffusers) built by name."""
from visadapt.backbones.base import Backbone, ImageEncoder
from visadapt.backbones.clip import OpenCLIPBackbone
from visadapt.backbones.diffusion import DiffusionBackbone
from visadapt.backbones.sam import SAMBackbone
from visadapt.backbones.timm_backbone import TimmBackbone
from visadapt.backbones.weights import list_model_zoo, load_state_dict, model_zoo_dir, read_metadata, resolve_weights

__all__ = [
    "Backbone",
    "DiffusionBackbone",
    "ImageEncoder",
    "OpenCLIPBackbone",
    "SAMBackbone",
    "TimmBackbone",
    "list_model_zoo",
    "load_state_dict",
    "model_zoo_dir",
    "read_metadata",
    "resolve_weights",
]
