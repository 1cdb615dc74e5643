"""Image classification with an adapted backbone: the LightningModule behind the PEFT configs."""
from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from visadapt.adapters import adapter_state_dict, count_parameters, inject
from visadapt.adapters.base import AdapterConfig
from visadapt.adapters.mosa import consistency_weight, symmetric_kl
from visadapt.backbones.base import Backbone
from visadapt.registry import TASKS
from visadapt.tasks.optim import build_optimizer, build_scheduler


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/inf loss; the run stops before the weights are touched."""


@TASKS.register()
class ClassificationTask(L.LightningModule):
    """Backbone + adapter + head, trained with cross-entropy; accuracy on val/test.

    Args:
        backbone: a built backbone whose upstream model holds the classification head.
        num_classes: number of classes (the backbone's head must already have this size).
        adapter: one adapter config dict (or a list); the backbone's head is added to ``modules_to_save``.
        optimizer: ``dict(type='AdamW', lr=..., weight_decay=...)``, over trainable parameters only.
        scheduler: ``dict(type='cosine', warmup_epochs=..., min_lr_ratio=...)`` or None.
        label_smoothing: cross-entropy label smoothing.

    Checkpoints hold only the trainable tensors: the frozen base is rebuilt from its pretrained weights.
    """

    def __init__(
        self,
        backbone: Backbone,
        num_classes: int,
        adapter: dict | list[dict] | None = None,
        optimizer: dict | None = None,
        scheduler: dict | None = None,
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        self.backbone = backbone
        configs = [AdapterConfig.from_dict(c) for c in _as_list(adapter or {"type": "full"})]
        head = backbone.classifier_name
        for c in configs:
            if head and head not in c.modules_to_save and c.method != "full":
                c.modules_to_save.append(head)
        inject(backbone.model, configs)
        # MoSA's regulariser: a second stochastic pass tied to the first by a symmetric KL (0 = off).
        self.consistency_weight = consistency_weight(backbone.model)
        self.optimizer_cfg = optimizer or {"type": "AdamW", "lr": 1e-3, "weight_decay": 1e-4}
        self.scheduler_cfg = scheduler
        self.criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.strict_loading = False

    # -- what a checkpoint holds ---------------------------------------------------------------------------------
    def checkpoint_keys(self) -> list[str]:
        return [f"backbone.model.{k}" for k in adapter_state_dict(self.backbone.model)]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        keep = set(self.checkpoint_keys())
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}
        bad = [k for k, v in checkpoint["state_dict"].items() if not torch.isfinite(v).all()]
        if bad:
            raise NonFiniteLossError(f"refusing to save a checkpoint with non-finite weights: {bad[:5]}")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        missing = sorted(set(self.checkpoint_keys()) - set(checkpoint["state_dict"]))
        if missing:
            raise KeyError(f"checkpoint lacks {len(missing)} adapter tensor(s) of this model: {missing[:8]}")

    def parameter_counts(self) -> dict[str, int]:
        return count_parameters(self.backbone.model)

    # -- steps ---------------------------------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    def objective(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(training loss, logits of the first pass): cross-entropy, plus MoSA's two-pass consistency term."""
        logits = self(images)
        loss = self.criterion(logits, labels)
        if self.consistency_weight > 0:
            loss = loss + self.consistency_weight * symmetric_kl(logits, self(images))
        return loss, logits

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, labels = batch
        loss, logits = self.objective(images, labels)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"non-finite loss ({loss.item()}) at epoch {self.current_epoch}, step {self.global_step}; "
                "training stopped before the update, the last checkpoint is untouched"
            )
        self.train_acc(logits, labels)
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str, metric: MulticlassAccuracy) -> None:
        images, labels = batch
        logits = self(images)
        metric(logits, labels)
        self.log(f"{stage}/loss", self.criterion(logits, labels), sync_dist=True)
        self.log(f"{stage}/acc", metric, prog_bar=True)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_acc)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_acc)

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self, self.optimizer_cfg)
        total = int(self.trainer.estimated_stepping_batches)
        per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))
        scheduler = build_scheduler(optimizer, self.scheduler_cfg, total, per_epoch)
        return {"optimizer": optimizer, "lr_scheduler": scheduler} if scheduler else optimizer


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]
