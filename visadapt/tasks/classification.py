"""Image classification with an adapted backbone: the LightningModule behind the PEFT configs."""
from __future__ import annotations

import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from visadapt.backbones.base import Backbone
from visadapt.registry import TASKS
from visadapt.tasks.base import AdaptedTask, adapter_configs


@TASKS.register()
class ClassificationTask(AdaptedTask):
    """Backbone + adapter + head, trained with cross-entropy; accuracy on val/test.

    Args:
        backbone: a built backbone whose upstream model holds the classification head.
        num_classes: number of classes (the backbone's head must already have this size).
        adapter: one adapter config dict (or a list); the backbone's head is added to ``modules_to_save``.
        optimizer: ``dict(type='AdamW', lr=..., weight_decay=...)``, over trainable parameters only.
        scheduler: ``dict(type='cosine', warmup_epochs=..., min_lr_ratio=...)`` or None.
        label_smoothing: cross-entropy label smoothing.

    Checkpoints hold only the trainable tensors (``AdaptedTask``).
    """

    data_inputs = ("num_classes",)
    monitor = ("val/acc", "max")

    @classmethod
    def backbone_inputs(cls, data):
        return {"num_classes": data["num_classes"]}  # the new head

    def __init__(
        self,
        backbone: Backbone,
        num_classes: int,
        adapter: dict | list[dict] | None = None,
        optimizer: dict | None = None,
        scheduler: dict | None = None,
        label_smoothing: float = 0.0,
    ):
        configs = adapter_configs(adapter)
        head = backbone.classifier_name
        for c in configs:
            if head and head not in c.modules_to_save and c.method != "full":
                c.modules_to_save.append(head)
        super().__init__(backbone, configs, optimizer, scheduler)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")

    # -- steps ---------------------------------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    def objective(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(training loss, logits): cross-entropy plus the terms the adapters add (MoSA's consistency)."""
        logits = self(images)
        return self.criterion(logits, labels) + self.adapter_loss(self, images, logits), logits

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, labels = batch
        loss, logits = self.objective(images, labels)
        self.check_finite(loss)
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
