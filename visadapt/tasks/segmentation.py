"""Segmentation with an adapted SAM: the LightningModule behind the ``sam_adapter`` configs.

The image encoder carries the adapters (LoRA on ``qkv`` as SAMed, bottleneck adapters in the blocks as
SAM-Adapter / MSA), the mask decoder trains or stays frozen by config, everything else is frozen. Binary tasks
decode SAM's single-mask token and train BCE + Dice (focal and IoU-prediction terms optional); multi-class tasks
build the decoder with one mask token per class (``num_multimask_outputs = num_classes - 1``, token 0 the
background, as SAMed) and train cross-entropy + Dice. Prompts come from the ground truth (``PromptConfig``).
"""
from __future__ import annotations

import zlib

import torch
from torch import nn
from torchmetrics import MeanMetric

from visadapt.backbones.base import Backbone
from visadapt.data.segmentation import IGNORE_INDEX
from visadapt.registry import TASKS, ConfigError, check_kwargs
from visadapt.segmentation.losses import multiclass_segmentation_loss, segmentation_loss
from visadapt.segmentation.metrics import (balanced_error_rate, dice_score, iou_score, mean_absolute_error,
                                           multiclass_scores)
from visadapt.segmentation.prompts import PromptConfig
from visadapt.tasks.base import AdaptedTask, adapter_configs

BINARY_METRICS = ("dice", "iou", "ber", "mae")
MULTICLASS_METRICS = ("dice", "iou")
BINARY_LOSS = dict(bce=1.0, dice=1.0, focal=0.0, iou_weight=0.0)
MULTICLASS_LOSS = dict(ce=1.0, dice=1.0)


@TASKS.register()
class SegmentationTask(AdaptedTask):
    """SAM + adapters for binary or multi-class masks; Dice and IoU (binary: also BER and MAE) on val/test.

    Args:
        backbone: a built ``SAMBackbone``.
        num_classes: classes including the background (2 = binary).
        adapter: adapter config(s) for the image encoder (``full`` trains everything, ``parameters`` nothing).
        prompt: ``PromptConfig`` fields (``mode`` none / box / points / grid, or a list drawn per batch).
        train_decoder: add ``mask_decoder`` to the adapter's ``modules_to_save`` (trained and exported).
        loss: binary ``dict(bce=, dice=, focal=, iou_weight=)``; multi-class ``dict(ce=, dice=)``.
        ignore_index: mask value that no loss or metric counts.
    """

    data_inputs = ("num_classes",)
    monitor = ("val/dice", "max")

    def __init__(self, backbone: Backbone, num_classes: int, adapter: dict | list[dict] | None = None,
                 optimizer: dict | None = None, scheduler: dict | None = None, prompt: dict | None = None,
                 train_decoder: bool = True, loss: dict | None = None, ignore_index: int = IGNORE_INDEX):
        if num_classes < 2:
            raise ConfigError(f"SegmentationTask: num_classes counts the background, so it must be >= 2, got {num_classes}")
        self.binary = num_classes == 2
        outputs = getattr(backbone, "num_multimask_outputs", None)
        if not self.binary and outputs != num_classes - 1:
            raise ConfigError(f"SegmentationTask: {num_classes} classes need backbone.num_multimask_outputs="
                              f"{num_classes - 1} (one mask token per class besides the background), got {outputs}")
        configs = adapter_configs(adapter)
        owner = next((c for c in configs if c.method != "full"), None)  # one config owns the decoder
        if train_decoder and owner is not None and "mask_decoder" not in owner.modules_to_save:
            owner.modules_to_save.append("mask_decoder")
        super().__init__(backbone, configs, optimizer, scheduler)
        check_kwargs(PromptConfig, prompt or {}, where="task.prompt")
        self.prompt = PromptConfig(**(prompt or {}))
        if not self.binary and self.prompt.needs_mask:
            raise ConfigError(f"SegmentationTask: prompt mode {self.prompt.modes} reads one object's mask; "
                              "multi-class tasks take 'none' or 'grid'")
        defaults = BINARY_LOSS if self.binary else MULTICLASS_LOSS
        unknown = set(loss or {}) - set(defaults)
        if unknown:
            raise ConfigError(f"SegmentationTask: unknown loss term(s) {sorted(unknown)}; valid: {sorted(defaults)}")
        self.loss_weights = {**defaults, **(loss or {})}
        self.num_classes, self.ignore_index = num_classes, ignore_index
        names = BINARY_METRICS if self.binary else MULTICLASS_METRICS
        self.metrics = nn.ModuleDict({f"{stage}_{name}": MeanMetric() for stage in ("val", "test") for name in names})

    # -- prompts and predictions -----------------------------------------------------------------------------
    @staticmethod
    def _generator(stage: str, step: int, device: torch.device | str = "cpu") -> torch.Generator:
        """Prompt draws are a function of (run seed, stage, step), so resumed runs and reruns repeat them."""
        seed = zlib.crc32(f"{torch.initial_seed()}:{stage}:{step}".encode())
        return torch.Generator(device=device).manual_seed(seed)

    def forward(self, images: torch.Tensor, masks: torch.Tensor | None = None, mode: str | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask logits [B, 1 or K, H, W], predicted IoUs) with prompts of ``mode`` made from ``masks``."""
        mode = mode or self.prompt.modes[0]
        if mode in ("box", "points") and masks is None:
            raise ValueError(f"SegmentationTask: prompt mode '{mode}' needs the ground-truth masks")
        foreground = masks == 1 if masks is not None else images.new_zeros(images.shape[0], *images.shape[2:])
        prompts = self.prompt.prompts(mode, foreground, generator)
        return self.backbone(images, outputs="first" if self.binary else "all", **prompts)

    def predict_masks(self, images: torch.Tensor, masks: torch.Tensor | None = None, batch_idx: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(class-index prediction [B, H, W], foreground probability or class probabilities) with the test split's prompts."""
        logits, _ = self(images, masks, generator=self._generator("test", batch_idx, images.device))
        return self.decide(logits)

    def decide(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class-index prediction, probabilities) from logits: SAM's threshold 0, or the arg-max class."""
        if self.binary:
            return (logits[:, 0] > 0).long(), logits[:, 0].float().sigmoid()
        prob = logits.float().softmax(1)
        return prob.argmax(1), prob

    # -- steps -----------------------------------------------------------------------------------------------
    def objective(self, logits: torch.Tensor, ious: torch.Tensor, masks: torch.Tensor
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not self.binary:
            return multiclass_segmentation_loss(logits, masks, ignore_index=self.ignore_index, **self.loss_weights)
        valid = masks != self.ignore_index
        target = (masks == 1).float()
        return segmentation_loss(logits[:, 0], target, iou_pred=ious[:, 0], valid=valid, **self.loss_weights)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, masks = batch
        mode = self.prompt.pick(True, self._generator("train-mode", self.global_step))
        generator = self._generator("train", self.global_step, images.device)
        logits, ious = self(images, masks, mode, generator)
        loss, terms = self.objective(logits, ious, masks)
        self.check_finite(loss)
        self.log("train/loss", loss, prog_bar=True)
        self.log_dict({f"train/{k}": v for k, v in terms.items()})
        return loss

    def scores(self, pred: torch.Tensor, prob: torch.Tensor, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-image metrics of a prediction (ignored pixels count as correct background)."""
        valid = masks != self.ignore_index
        if not self.binary:
            return multiclass_scores(pred, masks, self.num_classes, valid)
        target = (masks == 1) & valid
        pred = pred.bool() & valid
        return {"dice": dice_score(pred, target), "iou": iou_score(pred, target),
                "ber": balanced_error_rate(pred, target), "mae": mean_absolute_error(prob * valid, target)}

    def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int, stage: str) -> None:
        images, masks = batch
        logits, ious = self(images, masks, generator=self._generator(stage, batch_idx, images.device))
        loss, _ = self.objective(logits, ious, masks)
        self.log(f"{stage}/loss", loss, sync_dist=True)
        for name, values in self.scores(*self.decide(logits), masks).items():
            metric = self.metrics[f"{stage}_{name}"]
            metric.update(values)
            self.log(f"{stage}/{name}", metric, prog_bar=name == "dice")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")
