"""One-shot video tuning (Tune-A-Video's protocol, SimDA's adapters): a text-to-image ``DiffusionBackbone`` learns
one clip with its frames folded into the batch, then edits it (DDIM inversion, sampling with new prompts).

Training is the denoising objective of ``TextToImageTask`` on clips: every frame gets its own noise, the frames of a
clip share one timestep and the clip's caption. Test (and validation, when given) takes a ``PromptDataset`` of edit
prompts, edits the training clip for each and scores the result: frame consistency and textual faithfulness with a
CLIP judge (Tune-A-Video / LOVEU-TGVE definitions) and the mean absolute difference of consecutive frames (the tiny
model's CLIP is coarse); each edit is written to the run's ``samples/`` as a GIF, an MP4 and a frame strip.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from visadapt.adapters import set_call_context
from visadapt.backbones.diffusion import DiffusionBackbone
from visadapt.registry import TASKS, ConfigError
from visadapt.tasks.text_to_image import TextToImageTask


@TASKS.register()
class VideoTuningTask(TextToImageTask):
    """Tunes video adapters on (clip, caption) items: ``frames`` (F, 3, H, W) in [0, 1].

    Args:
        backbone: a ``DiffusionBackbone`` (the model-zoo text-to-image model, or an SD-1.x folder).
        adapter: a video method on the UNet: ``simda`` (default) or ``tune_a_video``; others may stack.
        gradient_checkpointing: diffusers' activation checkpointing in the UNet (SimDA's recipe; the adapters run in
            the recomputation too).
        caption_dropout, snr_gamma: as ``TextToImageTask``.
        sample_steps: DDIM steps of the inversion and of the sampling that edit the clip.
        guidance_scale: classifier-free guidance of the edit (SimDA: 12.5 on SD-1.4).
        clip: the CLIP that judges the edits (model-zoo CLIP by default).
    """

    monitor = ("val/textual_faithfulness", "max")

    def __init__(self, backbone: DiffusionBackbone, adapter: dict | list[dict] | None = None,
                 optimizer: dict | None = None, scheduler: dict | None = None, gradient_checkpointing: bool = False,
                 caption_dropout: float = 0.0, snr_gamma: float | None = None, sample_steps: int = 25,
                 guidance_scale: float = 7.5, clip: str | dict = "clip_tiny_shapes"):
        super().__init__(backbone, adapter if adapter is not None else dict(type="simda"), optimizer, scheduler,
                         caption_dropout=caption_dropout, snr_gamma=snr_gamma, sample_steps=sample_steps,
                         guidance_scale=guidance_scale, clip=clip)
        self.monitor = type(self).monitor
        if gradient_checkpointing:
            self.backbone.unet.enable_gradient_checkpointing()
        self._edits: list[tuple[int, str, torch.Tensor]] = []

    def prepare_fit(self, datamodule: Any, run_dir: Path) -> Any:
        from visadapt.generation.data import LatentDataModule
        from visadapt.generation.video import encode_clips

        return LatentDataModule(datamodule, encode_clips(self.backbone, datamodule.train_set))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        latents, captions = self.sample_latents(batch)  # (B, F, C, h, w)
        clips, frames = latents.shape[:2]
        set_call_context(self.adapted_model, num_frames=frames, latent_size=tuple(latents.shape[-2:]))
        z_t, t, target, weights = self.noisy(latents.flatten(0, 1), frames=frames)
        cond = self.condition(self.drop_captions(captions)).repeat_interleave(frames, 0)
        loss = self.weighted_mse(self.predict(z_t, t, cond), target, weights)
        self.check_finite(loss)
        self.log("train/loss", loss, prog_bar=True, batch_size=clips)
        return loss

    # -- evaluation: edits of the training clip ----------------------------------------------------------------
    def source_clip(self) -> tuple[torch.Tensor, str]:
        source = getattr(self.trainer.datamodule, "source", self.trainer.datamodule)
        train_set = getattr(source, "train_set", None)
        if train_set is None or len(train_set) == 0:
            raise ConfigError("VideoTuningTask: evaluation edits the training clip, but the data has no train set")
        return train_set[0]

    def evaluate(self, batch: tuple[Any, Sequence[str]], batch_idx: int, stage: str) -> None:
        from visadapt.generation.video import edit

        seeds, prompts = batch
        if isinstance(seeds, torch.Tensor) and seeds.dim() > 1:
            raise ConfigError("VideoTuningTask: val / test data must be a PromptDataset of edit prompts")
        frames, _ = self.source_clip()
        for seed, prompt in zip([int(s) for s in seeds], prompts):  # an edit is deterministic: seeds only label it
            result = edit(self.backbone, frames, prompt, self.sample_steps, self.guidance_scale)
            self._edits.append((seed, prompt, result))

    def on_validation_epoch_end(self) -> None:
        self._score_edits("val")

    def on_test_epoch_end(self) -> None:
        self._score_edits("test")

    def _score_edits(self, stage: str) -> None:
        from visadapt.data.video_base import tensor_to_frames
        from visadapt.data.video_io import write_clip
        from visadapt.generation.metrics import ClipJudge
        from visadapt.generation.video_metrics import frame_consistency, pixel_consistency, textual_faithfulness

        edits, self._edits = self._edits, []
        if not edits or self.trainer.sanity_checking:
            return
        if self._judge is None:
            self._judge = ClipJudge(self.clip_spec, device=self.device)
        scores: dict[str, list[float]] = {"frame_consistency": [], "textual_faithfulness": [],
                                          "pixel_consistency": []}
        folder = Path(self.trainer.default_root_dir) / "samples"
        for k, (seed, prompt, frames) in enumerate(edits):
            features = self._judge.images(frames)
            scores["frame_consistency"].append(frame_consistency(features))
            scores["textual_faithfulness"].append(textual_faithfulness(features, self._judge.texts([prompt])[0]))
            scores["pixel_consistency"].append(pixel_consistency(frames))
            if self.trainer.is_global_zero:
                write_clip(tensor_to_frames(frames), folder, f"{stage}_step{self.global_step:06d}_edit{k:02d}")
        for name, values in scores.items():
            self.log(f"{stage}/{name}", sum(values) / len(values))
