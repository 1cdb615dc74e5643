"""What every visadapt LightningModule shares: an adapted backbone, trainable-only checkpoints, the optimizer."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch

from visadapt.adapters import adapter_state_dict, count_parameters, inject
from visadapt.adapters.base import AdapterConfig
from visadapt.backbones.base import Backbone
from visadapt.tasks.optim import build_optimizer, build_scheduler


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/inf loss; the run stops before the weights are touched."""


def adapter_configs(adapter: dict | list[dict] | None) -> list[AdapterConfig]:
    """Adapter configs from a config's ``adapter`` value: one dict, a list, or None (full fine-tuning)."""
    items = adapter if isinstance(adapter, (list, tuple)) else [adapter or {"type": "full"}]
    return [AdapterConfig.from_dict(c) for c in items]


class AdaptedTask(L.LightningModule):
    """A backbone with adapters injected into its upstream model, trained by a subclass's ``training_step``.

    Checkpoints hold only the trainable tensors (the frozen base is rebuilt from its pretrained weights), a
    checkpoint with non-finite weights is refused, and loading checks that every adapter tensor is present.
    """

    def __init__(self, backbone: Backbone, adapters: list[AdapterConfig], optimizer: dict | None = None,
                 scheduler: dict | None = None):
        super().__init__()
        self.backbone = backbone
        inject(backbone.model, adapters)
        self.optimizer_cfg = optimizer or {"type": "AdamW", "lr": 1e-3, "weight_decay": 1e-4}
        self.scheduler_cfg = scheduler
        self.strict_loading = False

    def check_finite(self, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"non-finite loss ({loss.item()}) at epoch {self.current_epoch}, step {self.global_step}; "
                "training stopped before the update, the last checkpoint is untouched"
            )

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

    def training_data(self, datamodule: L.LightningDataModule, run_dir: Path) -> L.LightningDataModule:
        """The data module ``fit`` trains on; tasks that train on derived data (cached features) replace it."""
        return datamodule

    def configure_optimizers(self) -> Any:
        if not any(p.requires_grad for p in self.parameters()):
            return None  # nothing trains (zero-shot evaluation through the same runner)
        optimizer = build_optimizer(self, self.optimizer_cfg)
        total = int(self.trainer.estimated_stepping_batches)
        per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))
        scheduler = build_scheduler(optimizer, self.scheduler_cfg, total, per_epoch)
        return {"optimizer": optimizer, "lr_scheduler": scheduler} if scheduler else optimizer
