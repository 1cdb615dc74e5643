"""A text-to-image latent diffusion model (diffusers) as a visadapt backbone.

The parts are diffusers' and transformers' own classes, loaded from a local folder in diffusers' layout
(``model_index.json`` + ``unet/``, ``text_encoder/``, ``tokenizer/``, ``vae/``, ``scheduler/``): a model-zoo name
or a path, such as a Stable Diffusion 1.x snapshot. Nothing is downloaded; a hub id is refused. Adapters target
the parts' own module names under ``unet.`` and ``text_encoder.`` (``unet.*.attn1.to_q``), so a merged or
exported adapter speaks diffusers' vocabulary.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import re
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from visadapt.backbones.base import Backbone
from visadapt.backbones.weights import model_zoo_dir
from visadapt.registry import BACKBONES, ConfigError

# Module-name patterns of the attention projections (diffusers' Attention: to_q/to_k/to_v/to_out.0; CLIP text
# encoder: q_proj/k_proj/v_proj/out_proj), valid for Stable Diffusion 1.x and the model-zoo model alike.
DIFFUSION_TARGETS = {
    "unet_attn": ["unet.*.attn[12].to_q", "unet.*.attn[12].to_k", "unet.*.attn[12].to_v", "unet.*.attn[12].to_out.0"],
    "unet_self_attn": ["unet.*.attn1.to_q", "unet.*.attn1.to_k", "unet.*.attn1.to_v", "unet.*.attn1.to_out.0"],
    "unet_cross_attn": ["unet.*.attn2.to_q", "unet.*.attn2.to_k", "unet.*.attn2.to_v", "unet.*.attn2.to_out.0"],
    "text_attn": ["text_encoder.*.self_attn.q_proj", "text_encoder.*.self_attn.k_proj",
                  "text_encoder.*.self_attn.v_proj", "text_encoder.*.self_attn.out_proj"],
}
PARTS = ("unet", "text_encoder", "tokenizer", "vae", "scheduler")
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def _diffusers():
    try:
        import diffusers
        import transformers  # noqa: F401
    except ImportError as err:
        raise ConfigError('DiffusionBackbone needs diffusers and transformers: pip install "visadapt[diffusion]"') \
            from err
    return diffusers


def resolve_diffusers_folder(pretrained: str | os.PathLike) -> Path:
    """A folder in diffusers' layout: a path, or a model-zoo entry; a hub id or a missing folder is an error."""
    for folder in (Path(pretrained).expanduser(), model_zoo_dir() / str(pretrained)):
        if (folder / "model_index.json").is_file():
            missing = [p for p in PARTS if not (folder / p).is_dir()]
            if missing:
                raise FileNotFoundError(f"{folder}: a diffusers folder without the subfolder(s) {', '.join(missing)}")
            return folder
    hint = (f" '{pretrained}' looks like a Hugging Face hub id: visadapt never downloads weights; download the "
            "folder on a machine with access (huggingface-cli download ID --local-dir DIR) and pass DIR"
            if _HUB_ID.match(str(pretrained)) and not Path(pretrained).exists() else "")
    raise FileNotFoundError(f"no diffusers folder (with model_index.json) at '{pretrained}' or "
                            f"{model_zoo_dir() / str(pretrained)}.{hint}")


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """No per-file "Loading weights" bars from transformers / diffusers while local parts load (a tool's stderr is
    for its own messages); the libraries' previous setting comes back after."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    libraries = [lib for lib in (diffusers_logging, transformers_logging) if lib.is_progress_bar_enabled()]
    for lib in libraries:
        lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib in libraries:
            lib.enable_progress_bar()


def load_parts(folder: Path) -> tuple:
    """(unet, text encoder, vae, tokenizer, DDPM scheduler) from a diffusers folder, offline."""
    diffusers = _diffusers()
    from transformers import CLIPTextModel, CLIPTokenizer

    local = dict(local_files_only=True)
    try:
        with quiet_progress_bars():
            return (diffusers.UNet2DConditionModel.from_pretrained(folder, subfolder="unet", **local),
                    CLIPTextModel.from_pretrained(folder, subfolder="text_encoder", **local),
                    diffusers.AutoencoderKL.from_pretrained(folder, subfolder="vae", **local),
                    CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer", **local),
                    diffusers.DDPMScheduler.from_pretrained(folder, subfolder="scheduler", **local))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{folder}: cannot be loaded as a diffusers text-to-image folder ({err})") from err


def build_parts(architecture: dict) -> tuple:
    """Random-init UNet (and VAE, unless taken from a folder), the text tower of an open_clip CLIP converted to
    transformers, a tokenizer from open_clip's BPE, and a DDPM scheduler."""
    import tempfile

    from transformers import CLIPTokenizer

    from visadapt.backbones.clip import OpenCLIPBackbone
    from visadapt.backbones.clip_text import text_tower_to_transformers, write_clip_tokenizer

    diffusers = _diffusers()
    unknown = set(architecture) - {"unet", "vae", "vae_scaling_factor", "text_encoder", "scheduler"}
    if unknown or "text_encoder" not in architecture:
        raise ConfigError(f"DiffusionBackbone.architecture: keys unet, vae, vae_scaling_factor, text_encoder "
                          f"(required), scheduler; got {sorted(architecture)}")
    clip = OpenCLIPBackbone(pretrained=architecture["text_encoder"]).model
    text_encoder = text_tower_to_transformers(clip)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(tmp, clip.context_length))
    vae_spec = architecture.get("vae", {})
    try:
        vae = (load_parts(resolve_diffusers_folder(vae_spec))[2] if isinstance(vae_spec, str)
               else diffusers.AutoencoderKL(**vae_spec))
        unet = diffusers.UNet2DConditionModel(cross_attention_dim=text_encoder.config.hidden_size,
                                              **architecture.get("unet", {}))
        scheduler = diffusers.DDPMScheduler(**architecture.get("scheduler", {}))
        if "vae_scaling_factor" in architecture:
            vae.register_to_config(scaling_factor=float(architecture["vae_scaling_factor"]))
    except TypeError as err:
        raise ConfigError(f"DiffusionBackbone.architecture: {err}") from err
    return unet, text_encoder, vae, tokenizer, scheduler


class DiffusionParts(nn.Module):
    """The trainable parts under the names adapters target: ``unet``, ``text_encoder`` (and the frozen ``vae``)."""

    def __init__(self, unet: nn.Module, text_encoder: nn.Module, vae: nn.Module):
        super().__init__()
        self.unet, self.text_encoder, self.vae = unet, text_encoder, vae


@BACKBONES.register()
class DiffusionBackbone(Backbone):
    """UNet2DConditionModel + CLIPTextModel + CLIPTokenizer + AutoencoderKL + the training noise scheduler.

    Args:
        pretrained: a local diffusers folder or a model-zoo entry name (``sd_tiny_shapes``).
        architecture: instead of ``pretrained``, parts built at random (what the model-zoo model is trained
            from): ``dict(unet=<UNet2DConditionModel kwargs>, vae=<AutoencoderKL kwargs>, text_encoder=<an
            OpenCLIPBackbone ``pretrained`` value whose text tower becomes the frozen text encoder>,
            scheduler=<DDPMScheduler kwargs>, vae_scaling_factor=<float>)``; ``vae`` may also be a diffusers
            folder / model-zoo entry whose VAE is reused (the second pretraining stage), with the scaling factor
            its training measured (``AutoencoderTask``'s ``latent_std``).
        prediction_type: override the scheduler's ``epsilon`` / ``v_prediction``.
    """

    target_presets = DIFFUSION_TARGETS
    zoo_suffix = ""

    def __init__(self, pretrained: str | os.PathLike | None = None, architecture: dict | None = None,
                 prediction_type: str | None = None):
        super().__init__()
        if (pretrained is None) == (architecture is None):
            raise ConfigError("DiffusionBackbone: give either pretrained (a diffusers folder or model-zoo entry) or "
                              "architecture (parts built at random), not both or neither")
        diffusers = _diffusers()
        if pretrained is not None:
            self.folder = resolve_diffusers_folder(pretrained)
            unet, text_encoder, vae, self.tokenizer, scheduler = load_parts(self.folder)
        else:
            self.folder = None
            unet, text_encoder, vae, self.tokenizer, scheduler = build_parts(architecture)
        if prediction_type is not None:
            if prediction_type not in ("epsilon", "v_prediction"):
                raise ConfigError(f"DiffusionBackbone: prediction_type must be 'epsilon' or 'v_prediction', "
                                  f"got {prediction_type!r}")
            scheduler = diffusers.DDPMScheduler.from_config(scheduler.config, prediction_type=prediction_type)
        self.noise_scheduler = scheduler
        self.model = DiffusionParts(unet, text_encoder, vae)
        self.model.eval()

    # -- parts -------------------------------------------------------------------------------------------------
    @property
    def unet(self) -> nn.Module:
        return self.model.unet

    @property
    def text_encoder(self) -> nn.Module:
        return self.model.text_encoder

    @property
    def vae(self) -> nn.Module:
        return self.model.vae

    @property
    def resolution(self) -> int:
        """Image size the UNet was trained at (its sample size times the VAE's down-sampling)."""
        return int(self.unet.config.sample_size) * self.vae_scale

    @property
    def vae_scale(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    # -- encoders ----------------------------------------------------------------------------------------------
    def tokenize(self, prompts: Sequence[str]) -> torch.Tensor:
        return self.tokenizer(list(prompts), padding="max_length", max_length=self.tokenizer.model_max_length,
                              truncation=True, return_tensors="pt").input_ids.to(self.unet.device)

    def encode_prompt(self, prompts: Sequence[str]) -> torch.Tensor:
        """Text-encoder hidden states [B, L, D] (what the UNet cross-attends to)."""
        return self.text_encoder(self.tokenize(prompts))[0]

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) of the VAE's latent distribution, scaled by its ``scaling_factor``, for images in [0, 1]."""
        dist = self.vae.encode(images.to(self.vae.dtype) * 2 - 1).latent_dist
        factor = self.vae.config.scaling_factor
        return dist.mean * factor, dist.std * factor

    # -- sampling and saving -----------------------------------------------------------------------------------
    def pipeline(self, scheduler: str = "ddim") -> Any:
        """A stock ``StableDiffusionPipeline`` over these very modules (adapters included) for sampling."""
        diffusers = _diffusers()
        schedulers = {"ddim": diffusers.DDIMScheduler, "ddpm": diffusers.DDPMScheduler,
                      "dpm": diffusers.DPMSolverMultistepScheduler}
        if scheduler not in schedulers:
            raise ConfigError(f"scheduler must be one of {sorted(schedulers)}, got {scheduler!r}")
        pipe = diffusers.StableDiffusionPipeline(
            vae=self.vae, text_encoder=self.text_encoder, tokenizer=self.tokenizer, unet=self.unet,
            scheduler=self.sampling_scheduler(schedulers[scheduler]), safety_checker=None,
            feature_extractor=None, image_encoder=None, requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def sampling_scheduler(self, cls: type) -> Any:
        """A ``cls`` scheduler from the training scheduler's config as ``StableDiffusionPipeline`` would rewrite it
        (with a warning): no clipping of the predicted sample (latents are not bounded) and ``steps_offset`` 1, so
        that a DDIM inversion and the pipeline's DDIM sampling visit the same timesteps."""
        accepted = inspect.signature(cls.__init__).parameters
        overrides = {k: v for k, v in (("clip_sample", False), ("steps_offset", 1)) if k in accepted}
        return cls.from_config(self.noise_scheduler.config, **overrides)

    def save_pretrained(self, folder: str | os.PathLike, **metadata: Any) -> Path:
        """diffusers' own folder layout (``StableDiffusionPipeline.from_pretrained(folder)`` loads it with no
        visadapt code), plus ``visadapt.json`` with ``metadata`` (how it was made)."""
        import json

        folder = Path(folder)
        pipe = self.pipeline("ddpm")
        pipe.scheduler = self.noise_scheduler
        pipe.save_pretrained(folder, safe_serialization=True)
        if metadata:
            (folder / "visadapt.json").write_text(json.dumps(metadata, indent=2, default=str))
        return folder
