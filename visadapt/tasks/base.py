"""The task contract: what every visadapt LightningModule declares to the runner and gives back to it.

A task says what it needs (``data_inputs``: facts of the training set its constructor takes;
``backbone_inputs``: what the backbone must be built with), what the runner should watch (``monitor``), which
callbacks its adapters bring (Lightning's own ``configure_callbacks``), what it trains on (``prepare_fit``: a
stage of its own before fitting, such as a feature cache) and which model its adapters live in
(``adapted_model``, the one place checkpoint, export, load and test-time code take adapter tensors from).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Mapping

import lightning as L
import torch
from torch import nn

from visadapt.adapters import (
    adapter_loss_terms,
    adapter_state_dict,
    count_parameters,
    inject,
    injected_configs,
    load_adapter_state_dict,
    module_prefix,
    save_adapter,
)
from visadapt.adapters.base import AdapterConfig
from visadapt.backbones.base import Backbone
from visadapt.optim import build_model_optimizer, build_scheduler


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/inf loss; the run stops before the weights are touched."""


def adapter_configs(adapter: dict | list[dict] | None) -> list[AdapterConfig]:
    """Adapter configs from a config's ``adapter`` value: one dict, a list, or None (full fine-tuning)."""
    items = adapter if isinstance(adapter, (list, tuple)) else [adapter or {"type": "full"}]
    return [AdapterConfig.from_dict(c) for c in items]


class AdaptedTask(L.LightningModule):
    """A backbone with adapters injected into its adapted model, trained by a subclass's ``training_step``.

    Checkpoints hold only the trainable tensors (the frozen base is rebuilt from its pretrained weights), a
    checkpoint with non-finite weights is refused, and loading checks that every adapter tensor is present.
    """

    # -- the contract --------------------------------------------------------------------------------------------
    #: facts of the training set (``num_classes``, ``class_names``, ``shots``, ``templates``) the constructor takes
    data_inputs: ClassVar[tuple[str, ...]] = ()
    #: the metric ``best.ckpt`` follows and whether higher is better (a config's ``checkpoint.monitor`` overrides)
    monitor: ClassVar[tuple[str, str]] = ("val/loss", "min")

    @classmethod
    def backbone_inputs(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """What the backbone must be built with, given the training set's facts (a classifier: its head size)."""
        return {}

    def __init__(self, backbone: Backbone, adapters: list[AdapterConfig], optimizer: dict | None = None,
                 scheduler: dict | None = None):
        super().__init__()
        self.backbone = backbone
        inject(self.adapted_model, adapters)
        self.optimizer_cfg = optimizer or {"type": "AdamW", "lr": 1e-3, "weight_decay": 1e-4}
        self.scheduler_cfg = scheduler
        self.strict_loading = False

    @property
    def adapted_model(self) -> nn.Module:
        """The model the adapters are injected into and exported from."""
        return self.backbone.adapted_model

    def prepare_fit(self, datamodule: L.LightningDataModule, run_dir: Path) -> L.LightningDataModule:
        """A stage run before ``fit``: returns the data module to train on (tasks that train on derived data, such
        as cached features, build it here); validation and test stay on the original data."""
        return datamodule

    def export_adapter(self, directory: Path, metadata: dict[str, Any]) -> None:
        """Write the adapter-only export (``adapter.safetensors`` + ``adapter_config.json``; tasks may add their
        ecosystem's formats beside it)."""
        save_adapter(self.adapted_model, directory, metadata)

    def configure_callbacks(self) -> list[L.Callback]:
        """The callbacks the injected adapters need (see ``AdapterConfig.training_callbacks``)."""
        return [cb for config in injected_configs(self.adapted_model) for cb in config.training_callbacks()]

    def adapter_loss(self, forward: Any, inputs: Any, outputs: torch.Tensor) -> torch.Tensor | float:
        """The training-loss terms the injected adapters add (see ``AdapterConfig.loss_terms``), summed."""
        return sum(adapter_loss_terms(self.adapted_model, forward, inputs, outputs).values(), 0.0)

    def check_finite(self, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"non-finite loss ({loss.item()}) at epoch {self.current_epoch}, step {self.global_step}; "
                "training stopped before the update, the last checkpoint is untouched"
            )

    # -- what a checkpoint holds: the adapter tensors, under the adapted model's name in the task ------------------
    def adapter_prefix(self) -> str:
        return module_prefix(self, self.adapted_model)

    def checkpoint_keys(self) -> list[str]:
        return list(adapter_state_dict(self.adapted_model, prefix=self.adapter_prefix()))

    def load_adapter_checkpoint(self, state_dict: dict[str, torch.Tensor], source: str) -> None:
        """Load a checkpoint's ``state_dict`` (keys as the task names them) into the adapted model."""
        load_adapter_state_dict(self.adapted_model, state_dict, source=source, prefix=self.adapter_prefix())

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
        return count_parameters(self.adapted_model)

    def configure_optimizers(self) -> Any:
        if not any(p.requires_grad for p in self.parameters()):
            return None  # nothing trains (zero-shot evaluation through the same runner)
        optimizer = build_model_optimizer(self, self.optimizer_cfg)
        total = int(self.trainer.estimated_stepping_batches)
        per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))
        scheduler = build_scheduler(optimizer, self.scheduler_cfg, total, per_epoch)
        return {"optimizer": optimizer, "lr_scheduler": scheduler} if scheduler else optimizer
