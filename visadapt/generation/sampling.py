"""Sampling images from a ``DiffusionBackbone`` (adapters as injected) with diffusers' own pipeline: one
``torch.Generator`` per image, so image k of a call depends on its seed only, not on the batch it was drawn in."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from visadapt.registry import ConfigError


def generate(backbone, prompts: Sequence[str], seeds: Sequence[int], steps: int = 25, guidance_scale: float = 5.0,
             negative_prompt: str | None = None, height: int | None = None, width: int | None = None,
             scheduler: str = "ddim",
             pipe: Any = None, pipeline_kwargs: dict[str, Any] | None = None) -> list[np.ndarray]:
    """HxWx3 uint8 images, one per (prompt, seed); ``pipe`` (default: ``backbone.pipeline(scheduler)``) may be a
    pipeline with LoRA weights loaded by diffusers, ``pipeline_kwargs`` go to its call (``cross_attention_kwargs``)."""
    if steps < 1:
        raise ConfigError(f"generation: steps must be >= 1, got {steps}")
    if len(prompts) != len(seeds):
        raise ConfigError(f"generation: {len(prompts)} prompts but {len(seeds)} seeds")
    height, width = height or backbone.resolution, width or backbone.resolution
    multiple = backbone.vae_scale * 2 ** (len(backbone.unet.config.block_out_channels) - 1)
    if height % multiple or width % multiple or min(height, width) < multiple:
        raise ConfigError(f"generation: height and width must be positive multiples of {multiple} (the VAE's and the "
                          f"UNet's down-sampling), got {height}x{width}")
    pipe = pipe if pipe is not None else backbone.pipeline(scheduler)
    device = next(backbone.unet.parameters()).device
    generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
    with torch.no_grad():
        out = pipe(list(prompts), num_inference_steps=steps, guidance_scale=guidance_scale, height=height, width=width,
                   negative_prompt=[negative_prompt] * len(prompts) if negative_prompt else None,
                   generator=generators, output_type="np", **(pipeline_kwargs or {}))
    return [(np.clip(image, 0, 1) * 255).round().astype(np.uint8) for image in out.images]


def grid(images: Sequence[np.ndarray], columns: int | None = None) -> np.ndarray:
    """Images (same size) tiled row by row."""
    if not images:
        raise ValueError("grid: no images")
    columns = columns or int(np.ceil(np.sqrt(len(images))))
    rows = -(-len(images) // columns)
    h, w, c = images[0].shape
    canvas = np.zeros((rows * h, columns * w, c), np.uint8)
    for k, image in enumerate(images):
        r, q = divmod(k, columns)
        canvas[r * h:(r + 1) * h, q * w:(q + 1) * w] = image
    return canvas
