"""Latent text-to-image diffusion with an adapted ``DiffusionBackbone``: the VAE's own training, the denoising
objective (pretraining, fine-tuning, personalization) and its regularisers.

``TextToImageTask`` trains on (image, caption) pairs with the DDPM objective (epsilon or v-prediction, optional
min-SNR weighting, caption dropout for classifier-free guidance); ``regularizer`` adds DreamBooth's prior
preservation (``prior``: class images generated once by the base model, instance and class halves in one batch) or
CAT's (``cat``: the adapted prediction for the trigger-free caption pulled towards the base model's, which comes
from the same UNet with its adapters switched off, not from a second copy). Latents are encoded once
(``prepare_fit``) and a fresh sample of each latent distribution is drawn per step.
"""
from __future__ import annotations

import abc
import math
import re
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from visadapt.adapters import disable_adapters
from visadapt.backbones.diffusion import DiffusionBackbone
from visadapt.registry import TASKS, ConfigError
from visadapt.tasks.base import AdaptedTask, adapter_configs

REGULARIZERS = ("none", "prior", "cat")


def trigger_pattern(trigger: str) -> re.Pattern:
    """The trigger as a whole word (``zwx`` is not in ``zwxy``; ``<zwx>`` counts its brackets)."""
    return re.compile(rf"(?<![\w<]){re.escape(trigger)}(?![\w>])")


def drop_trigger(caption: str, trigger: str) -> str:
    """The caption with the trigger word removed (and the separator it leaves), e.g. ``"zwx, a star on a dark
    background"`` -> ``"a star on a dark background"``, ``"a zwx star"`` -> ``"a star"``."""
    text = trigger_pattern(trigger).sub(" ", caption)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"^[,;:]\s*", "", text).replace(" ,", ",")


def before_first_comma_dropped(caption: str) -> str:
    """CAT's reference convention: everything up to the first comma is dropped (the rest keeps its leading space);
    a caption without a comma is an error, as there."""
    if "," not in caption:
        raise ConfigError(f"cat_free_caption='first_comma' needs a comma in every caption; got {caption!r}")
    return caption.split(",", 1)[1]


class DiffusionTask(AdaptedTask, abc.ABC):
    """What the diffusion tasks share: a ``DiffusionBackbone``, no data facts needed, ``val/loss`` monitored."""

    data_inputs = ()
    monitor = ("val/loss", "min")

    def __init__(self, backbone: DiffusionBackbone, adapter: dict | list[dict] | None, optimizer: dict | None,
                 scheduler: dict | None):
        if not isinstance(backbone, DiffusionBackbone):
            raise ConfigError(f"{type(self).__name__} needs a DiffusionBackbone, got {type(backbone).__name__}")
        super().__init__(backbone, adapter_configs(adapter), optimizer, scheduler)

    def on_fit_start(self) -> None:
        self.backbone.vae.eval()  # frozen parts stay in eval mode (no dropout)

    def validation_step(self, batch: tuple[Any, Any], batch_idx: int) -> None:
        self.evaluate(batch, batch_idx, "val")

    def test_step(self, batch: tuple[Any, Any], batch_idx: int) -> None:
        self.evaluate(batch, batch_idx, "test")

    @abc.abstractmethod
    def evaluate(self, batch: tuple[Any, Any], batch_idx: int, stage: str) -> None:
        """Log the ``stage`` ('val' / 'test') metrics of one batch."""


@TASKS.register()
class AutoencoderTask(DiffusionTask):
    """Trains the backbone's VAE (``adapter=dict(type='parameters', parameters=['vae.*'])``): reconstruction MSE in
    [-1, 1] pixel space plus ``kl_weight`` x the KL to N(0, I) per latent element. Validation and test also report
    ``latent_std``, the std of the latent means: its inverse is the ``scaling_factor`` that gives the UNet
    unit-variance latents (how Stable Diffusion's 0.18215 was chosen)."""

    def __init__(self, backbone: DiffusionBackbone, adapter: dict | list[dict] | None = None,
                 optimizer: dict | None = None, scheduler: dict | None = None, kl_weight: float = 1e-6):
        super().__init__(backbone, adapter, optimizer, scheduler)
        self.kl_weight = float(kl_weight)

    def losses(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        vae = self.backbone.vae
        dist = vae.encode(images * 2 - 1).latent_dist
        recon = vae.decode(dist.sample()).sample
        mse = F.mse_loss(recon.float(), images.float() * 2 - 1)
        kl = dist.kl().mean() / math.prod(dist.mean.shape[1:])
        return mse + self.kl_weight * kl, mse, dist.mean.detach()

    def on_train_epoch_start(self) -> None:
        self.backbone.vae.train()

    def training_step(self, batch: tuple[torch.Tensor, Any], batch_idx: int) -> torch.Tensor:
        loss, mse, _ = self.losses(batch[0])
        self.check_finite(loss)
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/mse", mse)
        return loss

    def evaluate(self, batch: tuple[torch.Tensor, Any], batch_idx: int, stage: str) -> None:
        loss, mse, means = self.losses(batch[0])
        n = len(batch[0])
        self.log(f"{stage}/loss", loss, prog_bar=True, sync_dist=True, batch_size=n)
        self.log(f"{stage}/mse", mse, sync_dist=True, batch_size=n)
        self.log(f"{stage}/latent_std", means.float().std(), sync_dist=True, batch_size=n)


@TASKS.register()
class TextToImageTask(DiffusionTask):
    """The denoising objective on (image, caption) batches.

    Args:
        backbone: a ``DiffusionBackbone``.
        adapter: any adapter of the API on ``unet.*`` (and ``text_encoder.*``); default LoRA r=4 on the UNet's
            attention projections.
        regularizer: ``none``, ``prior`` (DreamBooth) or ``cat`` (CAT).
        trigger: the subject's trigger word (``cat``: removed from the caption for the regulariser's prompt;
            every training caption must contain it).
        cat_weight: CAT's lambda (1.0 in the paper's main setting; 0 is plain LoRA).
        cat_free_caption: ``remove_trigger`` (default: the trigger word itself is removed) or ``first_comma``
            (the reference's convention: everything up to the first comma is dropped).
        class_prompt, num_class_images, prior_loss_weight: DreamBooth's prior preservation: class images are
            generated once by the base model (``prepare_fit``; cached in the run directory) and each batch holds
            an instance half and a class half.
        caption_dropout: probability of training on the empty caption (classifier-free guidance).
        snr_gamma: min-SNR-gamma loss weighting (Hang et al. 2023; 5.0 is their choice); None for plain MSE.
        sample_steps, guidance_scale: DDIM sampling (class images, evaluation).
        clip: the CLIP that judges generations when the val / test set is a ``PromptDataset`` (identity and prompt
            similarity, knowledge preservation; ``visadapt.generation.metrics``): an ``OpenCLIPBackbone``
            ``pretrained`` value or its keyword arguments.

    Validation and test: on (image, caption) data, the denoising loss at fixed noise; on a ``PromptDataset``, images
    generated from its seeds, scored by ``clip``, with a grid PNG per evaluation in the run's ``samples/``.
    """

    def __init__(self, backbone: DiffusionBackbone, adapter: dict | list[dict] | None = None,
                 optimizer: dict | None = None, scheduler: dict | None = None, regularizer: str = "none",
                 trigger: str | None = None, cat_weight: float = 1.0, cat_free_caption: str = "remove_trigger",
                 class_prompt: str | None = None, num_class_images: int = 50, prior_loss_weight: float = 1.0,
                 caption_dropout: float = 0.0, snr_gamma: float | None = None, sample_steps: int = 25,
                 guidance_scale: float = 5.0, clip: str | dict = "clip_tiny_shapes"):
        adapter = adapter if adapter is not None else dict(
            type="lora", r=4, alpha=4.0, init="gaussian", target_modules=backbone.target_presets["unet_attn"])
        super().__init__(backbone, adapter, optimizer, scheduler)
        if regularizer not in REGULARIZERS:
            raise ConfigError(f"TextToImageTask: regularizer must be one of {REGULARIZERS}, got {regularizer!r}")
        if regularizer == "cat" and not trigger and cat_free_caption == "remove_trigger":
            raise ConfigError("TextToImageTask: regularizer='cat' needs the trigger word (trigger=...) to remove")
        if cat_free_caption not in ("remove_trigger", "first_comma"):
            raise ConfigError(f"TextToImageTask: cat_free_caption must be 'remove_trigger' or 'first_comma', "
                              f"got {cat_free_caption!r}")
        if regularizer == "prior" and not class_prompt:
            raise ConfigError("TextToImageTask: regularizer='prior' needs class_prompt (e.g. 'a star')")
        if not 0.0 <= caption_dropout < 1.0:
            raise ConfigError(f"TextToImageTask: caption_dropout must be in [0, 1), got {caption_dropout}")
        self.regularizer, self.trigger = regularizer, trigger
        # A subject (trigger word) is judged on generations from prompts; pretraining on held-out image-caption pairs.
        self.monitor = ("val/identity", "max") if trigger else ("val/loss", "min")
        self.cat_weight, self.cat_free_caption = float(cat_weight), cat_free_caption
        self.class_prompt, self.num_class_images = class_prompt, int(num_class_images)
        self.prior_loss_weight, self.caption_dropout = float(prior_loss_weight), float(caption_dropout)
        self.snr_gamma = None if snr_gamma is None else float(snr_gamma)
        self.sample_steps, self.guidance_scale = int(sample_steps), float(guidance_scale)
        self.text_trainable = any(p.requires_grad for p in backbone.text_encoder.parameters())
        self.clip_spec = clip
        self._judge = None
        self._generated: dict[str, list] = {}

    # -- data: latents once, class images once ------------------------------------------------------------------
    def prepare_fit(self, datamodule: L.LightningDataModule, run_dir: Path) -> L.LightningDataModule:
        from visadapt.generation.data import LatentDataModule, encode_dataset, generate_class_images

        if self.trigger:
            captions = [datamodule.train_set[i][1] for i in range(len(datamodule.train_set))]
            missing = [c for c in captions if not trigger_pattern(self.trigger).search(c)]
            if missing and len(missing) == len(captions):  # nothing would tie the subject to the trigger word
                raise ConfigError(f"TextToImageTask: trigger {self.trigger!r} (task.trigger) is in none of the "
                                  f"{len(captions)} training captions, e.g. {captions[0]!r}; give the training set "
                                  "(data.train.trigger, or its captions) the same word")
            if missing and self.regularizer == "cat":
                raise ConfigError(f"TextToImageTask: trigger {self.trigger!r} is absent from {len(missing)} of "
                                  f"{len(captions)} training captions, e.g. {missing[0]!r}")
        instance = encode_dataset(self.backbone, datamodule.train_set)
        extra = None
        if self.regularizer == "prior":
            folder = Path(run_dir) / "class_images"
            images = generate_class_images(self.backbone, self.class_prompt, self.num_class_images, folder,
                                           steps=self.sample_steps, guidance_scale=self.guidance_scale,
                                           seed=datamodule.seed)
            extra = encode_dataset(self.backbone, images)
        return LatentDataModule(datamodule, instance, extra)

    # -- the objective -------------------------------------------------------------------------------------------
    def free_caption(self, caption: str) -> str:
        if self.cat_free_caption == "first_comma":
            return before_first_comma_dropped(caption)
        return drop_trigger(caption, self.trigger)

    def condition(self, captions: Sequence[str]) -> torch.Tensor:
        if self.text_trainable:
            return self.backbone.encode_prompt(captions)
        with torch.no_grad():
            return self.backbone.encode_prompt(captions)

    def noisy(self, latents: torch.Tensor, frames: int = 1
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z_t, t, target, per-sample loss weight) for clean latents, noise and timesteps drawn from the global RNG
        (restored on resume); with ``frames`` > 1 the rows are clips of that many frames sharing one timestep."""
        sched = self.backbone.noise_scheduler
        noise = torch.randn_like(latents)
        t = torch.randint(0, sched.config.num_train_timesteps, (latents.shape[0] // frames,), device=latents.device)
        t = t.repeat_interleave(frames)
        z_t = sched.add_noise(latents, noise, t)
        target = noise if sched.config.prediction_type == "epsilon" else sched.get_velocity(latents, noise, t)
        return z_t, t, target, self.loss_weights(t)

    def loss_weights(self, t: torch.Tensor) -> torch.Tensor:
        """Min-SNR-gamma: min(SNR, gamma) / SNR for epsilon, / (SNR + 1) for v-prediction; ones without it."""
        if self.snr_gamma is None:
            return torch.ones(t.shape, device=t.device)
        alphas = self.backbone.noise_scheduler.alphas_cumprod.to(t.device)[t]
        snr = alphas / (1 - alphas)
        clipped = torch.minimum(snr, torch.full_like(snr, self.snr_gamma))
        eps = self.backbone.noise_scheduler.config.prediction_type == "epsilon"
        return clipped / snr if eps else clipped / (snr + 1)

    def predict(self, z_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.backbone.unet(z_t, t, cond).sample

    @staticmethod
    def weighted_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        per_sample = (pred.float() - target.float()).pow(2).flatten(1).mean(1)
        return (per_sample * weights).mean()

    def drop_captions(self, captions: Sequence[str]) -> list[str]:
        if self.caption_dropout == 0:
            return list(captions)
        keep = torch.rand(len(captions)) >= self.caption_dropout
        return [c if k else "" for c, k in zip(captions, keep.tolist())]

    def denoising_losses(self, latents: torch.Tensor, captions: Sequence[str],
                         extra: tuple[torch.Tensor, Sequence[str]] | None = None) -> dict[str, torch.Tensor]:
        """The loss terms of one batch: ``instance`` (and ``prior`` for a class half, ``cat`` for CAT)."""
        n = latents.shape[0]
        if extra is not None:  # DreamBooth: instance and class halves through the UNet together
            latents, captions = torch.cat([latents, extra[0]]), list(captions) + list(extra[1])
        z_t, t, target, weights = self.noisy(latents)
        terms: dict[str, torch.Tensor] = {}
        if self.regularizer == "cat" and self.cat_weight > 0:
            # The base prediction first: methods that train tensors in place swap them while switched off.
            free = [self.free_caption(c) for c in captions]
            with torch.no_grad(), disable_adapters(self.adapted_model):
                base = self.predict(z_t, t, self.backbone.encode_prompt(free))
            adapted_free = self.predict(z_t, t, self.condition(free))
            terms["cat"] = self.cat_weight * self.weighted_mse(adapted_free, base, weights)
        pred = self.predict(z_t, t, self.condition(self.drop_captions(captions)))
        terms["instance"] = self.weighted_mse(pred[:n], target[:n], weights[:n])
        if extra is not None:
            terms["prior"] = self.prior_loss_weight * self.weighted_mse(pred[n:], target[n:], weights[n:])
        return terms

    @staticmethod
    def sample_latents(part: tuple[torch.Tensor, torch.Tensor, Sequence[str]]) -> tuple[torch.Tensor, list[str]]:
        """A fresh draw from each cached latent distribution (global RNG, restored on resume)."""
        mean, std, captions = part
        return mean + std * torch.randn_like(mean), list(captions)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        instance, extra = batch if self.regularizer == "prior" else (batch, None)
        latents, captions = self.sample_latents(instance)
        terms = self.denoising_losses(latents, captions, self.sample_latents(extra) if extra is not None else None)
        loss = sum(terms.values())
        self.check_finite(loss)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(captions))
        for name, value in terms.items():
            self.log(f"train/{name}", value, batch_size=len(captions))
        return loss

    def evaluate(self, batch: tuple[Any, Sequence[str]], batch_idx: int, stage: str) -> None:
        first, captions = batch
        if first.dim() == 4:
            self.log(f"{stage}/loss", self.fixed_noise_loss(first, captions, batch_idx), prog_bar=True,
                     sync_dist=True, batch_size=len(captions))
        else:
            self.generate_for_evaluation([int(v) for v in first], list(captions))

    def fixed_noise_loss(self, images: torch.Tensor, captions: Sequence[str], batch_idx: int) -> torch.Tensor:
        """The denoising loss on images with noise and timesteps fixed by the batch index."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(batch_idx)
            mean, std = self.backbone.encode_images(images)
            latents = mean + std * torch.randn_like(mean)
            z_t, t, target, weights = self.noisy(latents)
            return self.weighted_mse(self.predict(z_t, t, self.backbone.encode_prompt(captions)), target, weights)

    # -- generation metrics on a PromptDataset -------------------------------------------------------------------
    def generate_for_evaluation(self, seeds: list[int], prompts: list[str]) -> None:
        """Subject images (prompts as given), and trigger-free images from the adapted and the base model, from the
        same seeds."""
        from visadapt.generation.sampling import generate

        free = [drop_trigger(p, self.trigger) if self.trigger else p for p in prompts]
        kwargs = dict(steps=self.sample_steps, guidance_scale=self.guidance_scale)
        subject = generate(self.backbone, prompts, seeds, **kwargs)
        adapted = generate(self.backbone, free, seeds, **kwargs)
        with disable_adapters(self.adapted_model):
            base = generate(self.backbone, free, seeds, **kwargs)
        for key, value in (("subject", subject), ("adapted", adapted), ("base", base), ("free", free)):
            self._generated.setdefault(key, []).extend(value)

    def on_validation_epoch_end(self) -> None:
        self._score_generations("val")

    def on_test_epoch_end(self) -> None:
        self._score_generations("test")

    def _score_generations(self, stage: str) -> None:
        from PIL import Image

        from visadapt.generation.metrics import (ClipJudge, identity_similarity, knowledge_preservation,
                                                 prompt_similarity)
        from visadapt.generation.sampling import grid

        generated, self._generated = self._generated, {}
        if not generated or self.trainer.sanity_checking:
            return
        if self._judge is None:
            self._judge = ClipJudge(self.clip_spec, device=self.device)
        judge = self._judge
        subject = judge.images(generated["subject"])
        metrics = {"prompt_similarity": prompt_similarity(subject, judge.texts(generated["free"])),
                   "kps": knowledge_preservation(judge.images(generated["adapted"]), judge.images(generated["base"]))}
        source = getattr(self.trainer.datamodule, "source", self.trainer.datamodule)
        train_set = getattr(source, "train_set", None)
        if train_set is not None and len(train_set):
            instances = torch.stack([train_set[i][0] for i in range(len(train_set))])
            metrics["identity"] = identity_similarity(subject, judge.images(instances))
        for name, value in metrics.items():
            self.log(f"{stage}/{name}", value)
        if self.trainer.is_global_zero:
            folder = Path(self.trainer.default_root_dir) / "samples"
            folder.mkdir(parents=True, exist_ok=True)
            rows = [grid(generated[k], columns=len(generated[k])) for k in ("subject", "adapted", "base")]
            Image.fromarray(np.concatenate(rows)).save(folder / f"{stage}_step{self.global_step:06d}.png")

    # -- export ------------------------------------------------------------------------------------------------
    def export_adapter(self, directory: Path, metadata: dict[str, Any]) -> None:
        """The adapter export plus, when the adapters are plain LoRA, diffusers' ``pytorch_lora_weights.safetensors``
        (loads with ``StableDiffusionPipeline.load_lora_weights``) and a kohya / A1111 file beside it."""
        from visadapt.generation.lora_export import save_diffusers_lora

        super().export_adapter(directory, metadata)
        save_diffusers_lora(self.backbone, directory)
