"""Video with a frame-folded image UNet (SimDA / Tune-A-Video adapters): clip latents, DDIM inversion, sampling.

A clip of F frames is F rows of the stock ``StableDiffusionPipeline``'s batch: its prompt embedding repeated F
times and latents of shape (F, C, h, w); the adapters learn the frame count from the model's call context.
Editing (Tune-A-Video / SimDA): DDIM inversion of the clean clip latents with the empty prompt and no guidance
(diffusers' ``DDIMInverseScheduler``), then DDIM sampling from the inverted latents with the edit prompt.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch

from visadapt.adapters import call_context
from visadapt.generation.data import LatentSet
from visadapt.registry import ConfigError


@contextlib.contextmanager
def clip_context(backbone, num_frames: int, latents: torch.Tensor) -> Iterator[None]:
    """The frame count and latent size the video adapters of ``backbone`` read during the calls inside."""
    with call_context(backbone.adapted_model, num_frames=int(num_frames), latent_size=tuple(latents.shape[-2:])):
        yield


@torch.no_grad()
def encode_clip(backbone, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) of the scaled latent distribution of each frame: (F, C, h, w) each, frames in [0, 1]."""
    size = backbone.resolution
    if frames.dim() != 4 or frames.shape[1] != 3:
        raise ConfigError(f"video: expected frames shaped (F, 3, H, W), got {tuple(frames.shape)}")
    if tuple(frames.shape[-2:]) != (size, size):
        raise ConfigError(f"video: frames are {tuple(frames.shape[-2:])}, the model works at {size}x{size} "
                          "(set the dataset's image_size)")
    mean, std = backbone.encode_images(frames.to(next(backbone.vae.parameters()).device))
    return mean.float().cpu(), std.float().cpu()


def encode_clips(backbone, dataset: Any) -> LatentSet:
    """Every (frames, caption) item of ``dataset`` encoded once: means and stds shaped (N, F, C, h, w). A
    ``VideoClipDataset`` is one clip repeated: it is encoded once and its latents repeated without copies."""
    from visadapt.data.video_base import VideoClipDataset

    if len(dataset) == 0:
        raise ConfigError(f"{type(dataset).__name__}: no clips")
    if isinstance(dataset, VideoClipDataset):
        frames, caption = dataset[0]
        mean, std = encode_clip(backbone, frames)
        n = len(dataset)
        return LatentSet(mean.expand(n, *mean.shape), std.expand(n, *std.shape), [str(caption)] * n)
    items = [dataset[i] for i in range(len(dataset))]
    encoded = [encode_clip(backbone, frames) for frames, _ in items]
    counts = {m.shape[0] for m, _ in encoded}
    if len(counts) > 1:
        raise ConfigError(f"{type(dataset).__name__}: clips of different lengths {sorted(counts)} cannot share a batch")
    return LatentSet(torch.stack([m for m, _ in encoded]), torch.stack([s for _, s in encoded]),
                     [str(c) for _, c in items])


def _prompt_rows(backbone, prompt: str, num_frames: int) -> torch.Tensor:
    return backbone.encode_prompt([prompt]).repeat(num_frames, 1, 1)


@torch.no_grad()
def invert(backbone, latents: torch.Tensor, steps: int, prompt: str = "") -> torch.Tensor:
    """DDIM inversion of clean clip latents (F, C, h, w) to the noise level of the first sampling step
    (conditional prediction only, as Tune-A-Video and SimDA do; ``prompt`` is empty there)."""
    from diffusers import DDIMInverseScheduler

    if steps < 1:
        raise ConfigError(f"video inversion: steps must be >= 1, got {steps}")
    scheduler = backbone.sampling_scheduler(DDIMInverseScheduler)  # the exact inverse of the sampler's DDIM steps
    scheduler.set_timesteps(steps, device=latents.device)
    cond = _prompt_rows(backbone, prompt, latents.shape[0])
    with clip_context(backbone, latents.shape[0], latents):
        for t in scheduler.timesteps:
            eps = backbone.unet(latents, t, cond).sample
            latents = scheduler.step(eps, t, latents).prev_sample
    return latents


def noise_latents(backbone, num_frames: int, seed: int, height: int | None = None,
                  width: int | None = None) -> torch.Tensor:
    """Seeded starting noise for text-to-video: (F, C, h, w), every frame drawn independently."""
    size = backbone.unet.config.sample_size
    h = (height // backbone.vae_scale) if height else size
    w = (width // backbone.vae_scale) if width else size
    generator = torch.Generator().manual_seed(int(seed))
    shape = (num_frames, backbone.unet.config.in_channels, h, w)
    return torch.randn(shape, generator=generator).to(next(backbone.unet.parameters()).device)


@torch.no_grad()
def sample(backbone, prompt: str, latents: torch.Tensor, steps: int = 25, guidance_scale: float = 7.5,
           negative_prompt: str | None = None) -> torch.Tensor:
    """Frames (F, 3, H, W) in [0, 1] sampled by the stock pipeline (DDIM) from ``latents`` (F, C, h, w)."""
    if steps < 1:
        raise ConfigError(f"video sampling: steps must be >= 1, got {steps}")
    frames = latents.shape[0]
    pipe = backbone.pipeline("ddim")
    vae_scale = backbone.vae_scale
    with clip_context(backbone, frames, latents):
        out = pipe(prompt_embeds=_prompt_rows(backbone, prompt, frames),
                   negative_prompt_embeds=_prompt_rows(backbone, negative_prompt or "", frames),
                   latents=latents, num_inference_steps=steps, guidance_scale=guidance_scale,
                   height=latents.shape[-2] * vae_scale, width=latents.shape[-1] * vae_scale, output_type="pt")
    return out.images.float().clamp(0, 1).cpu()


def edit(backbone, frames: torch.Tensor, prompt: str, steps: int = 25, guidance_scale: float = 7.5,
         negative_prompt: str | None = None) -> torch.Tensor:
    """The clip (F, 3, H, W) in [0, 1] re-rendered for ``prompt``: DDIM inversion, then sampling (deterministic)."""
    mean, _ = encode_clip(backbone, frames)
    start = invert(backbone, mean.to(next(backbone.unet.parameters()).device), steps)
    return sample(backbone, prompt, start, steps, guidance_scale, negative_prompt)
