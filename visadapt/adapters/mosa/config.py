"""MoSA (Zhang et al., arXiv:2312.02923, "Split & Merge: Unlocking the Potential of Visual Adapters via Sparse
Training"; v2 "MoSA: Mixture of Sparse Adapters for Visual Efficient Tuning").

An AdaptFormer-style adapter (own LayerNorm on the residual stream, down, GELU, dropout, up, scale 0.1, parallel
to the MLP) whose split projection is divided into N sub-adapters by a fixed random element-wise partition.
Training activates one sub-adapter per block and per step; after training the sub-adapters average into one
plain adapter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from visadapt.adapters.base import register_adapter
from visadapt.adapters.bottleneck.config import AdaptFormerConfig, BottleneckConfig
from visadapt.adapters.mosa.layer import MoSALayer, layer_key
from visadapt.adapters.mosa.loss import symmetric_kl
from visadapt.layers.bottleneck import ACTIVATIONS
from visadapt.registry import ConfigError

SHARE_MODES = ("down", "up", "none")
MERGE_MODES = ("add", "joint")


@register_adapter
@dataclass
class MoSAConfig(BottleneckConfig):
    """MoSA over bottleneck adapters; the bottleneck fields are those of :class:`BottleneckConfig`.

    Defaults follow the reference VTAB recipe (``Theia-4869/MoSA`` scripts): bottleneck 16 (64 for FGVC), GELU,
    dropout 0.1, scale 0.1, adapter LayerNorm, 4 sub-adapters, dense shared down-projection.

    Args:
        num_subadapters: N, the number of sub-adapters each split projection is divided into (1..255; 1 is a plain
            adapter).
        share: which projection stays dense and shared by all sub-adapters: ``down`` (only the up-projection is
            split; VTAB and most FGVC scripts), ``up`` (only down is split; the Stanford Cars script) or ``none``
            (both split, drawn independently).
        seed: seeds the partition (and the initial value W0 of a split down-projection) and the per-step draws,
            combined with each layer's module name. The reference runs use seed 3407.
        merge_mode: ``add`` (the mean of the sub-adapters, the reference's default and the only one its scripts
            use) or ``joint`` (the reference's alternative: the union of each sub-adapter's own elements divided by
            N, bias = the last sub-adapter's bias / N; differs from ``add`` only for a split down-projection and
            for the biases).
        momentum_on_inactive: the optimiser behaviour of the elements of sub-adapters not drawn in a step.
            ``True`` (default, reproduces the reference under its pinned PyTorch 1.11): their gradient is zero,
            so AdamW still decays their moments, moves them by their momentum and applies weight decay.
            ``False``: they are frozen for that step (value and optimiser state unchanged), as N separate
            parameters whose gradient is None would be under PyTorch >= 2; needs
            ``visadapt.adapters.mosa.attach_optimizer`` (or ``MoSACallback``, which ``training_callbacks`` gives
            every training run).
        consistency_weight: weight of the symmetric-KL consistency loss between two stochastic forward passes
            per training step (reference: 1.0); 0 disables the second pass. Added to a task's loss through
            ``loss_terms``, not by the layers.
    """

    method: ClassVar[str] = "mosa"
    layer_cls: ClassVar = MoSALayer
    mergeable: ClassVar[bool] = False
    default_targets: ClassVar[tuple[str, ...]] = ("blocks.*.mlp",)

    hidden_dim: int = 16
    act: str = "gelu"
    scale: float = 0.1
    dropout: float = 0.1
    layer_norm: bool = True
    placement: str = "parallel"
    input_from: str | None = "norm2"
    num_subadapters: int = 4
    share: str = "down"
    seed: int = 3407
    merge_mode: str = "add"
    momentum_on_inactive: bool = True
    consistency_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        m = self.method
        if not _is_int(self.hidden_dim):
            raise ConfigError(f"{m}: hidden_dim must be an integer, got {self.hidden_dim!r}")
        if not _is_int(self.num_subadapters) or not 1 <= self.num_subadapters <= 255:
            raise ConfigError(f"{m}: num_subadapters must be an integer in [1, 255], got {self.num_subadapters!r}")
        if self.share not in SHARE_MODES:
            raise ConfigError(f"{m}: share must be one of {list(SHARE_MODES)}, got {self.share!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ConfigError(f"{m}: seed must be a non-negative integer, got {self.seed!r}")
        if self.merge_mode not in MERGE_MODES:
            raise ConfigError(f"{m}: merge_mode must be one of {list(MERGE_MODES)}, got {self.merge_mode!r}")
        if not isinstance(self.momentum_on_inactive, bool):
            raise ConfigError(f"{m}: momentum_on_inactive must be true or false, got {self.momentum_on_inactive!r}")
        if not _is_real(self.consistency_weight) or not (math.isfinite(self.consistency_weight)
                                                         and self.consistency_weight >= 0):
            raise ConfigError(f"{m}: consistency_weight must be a finite number >= 0, got {self.consistency_weight!r}")
        if self.act not in ACTIVATIONS:
            raise ConfigError(f"{m}: act must be one of {sorted(ACTIVATIONS)}, got {self.act!r}")
        if not _is_real(self.dropout) or not 0 <= self.dropout < 1:
            raise ConfigError(f"{m}: dropout must be in [0, 1), got {self.dropout!r}")
        if not _is_real(self.scale):
            raise ConfigError(f"{m}: scale must be a number, got {self.scale!r}")

    def inject(self, model: nn.Module) -> list[str]:
        names = super().inject(model)
        for name in names:
            # Partition, W0 and draws depend on the module name, so a re-injected model rebuilds them exactly.
            model.get_submodule(name).adapter.set_layer_key(layer_key(name))
        return names

    def training_callbacks(self) -> list:
        from visadapt.adapters.mosa.callback import MoSACallback  # imports Lightning: only for training

        return [MoSACallback()]

    def loss_terms(self, forward, inputs, outputs) -> dict:
        """The consistency regulariser: a second stochastic pass tied to the first by a symmetric KL."""
        if self.consistency_weight <= 0:
            return {}
        return {"mosa_consistency": self.consistency_weight * symmetric_kl(outputs, forward(inputs))}

    def plain_config(self) -> AdaptFormerConfig:
        """The plain bottleneck adapter the merged model is: same width, placement, norm, act, scale, dropout."""
        exclude = list(self.exclude_modules) if isinstance(self.exclude_modules, list) else self.exclude_modules
        return AdaptFormerConfig(
            target_modules=list(self.target_modules),
            exclude_modules=exclude,
            modules_to_save=list(self.modules_to_save),
            hidden_dim=self.hidden_dim,
            act=self.act,
            scale=self.scale,
            dropout=self.dropout,
            layer_norm=self.layer_norm,
            placement=self.placement,
            input_from=self.input_from,
        )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# The reference recipes (``Theia-4869/MoSA:scripts/mosa/vit``), in visadapt's config vocabulary. The reference
# AdamW uses eps 1e-6, weight decay 0.01 on weights and none on biases/LayerNorm (visadapt's param_groups skips
# decay on 1-D tensors, which includes the flattened per-sub-adapter biases), batch 128, 100 epochs, 10 warm-up
# epochs of a cosine schedule (the reference steps it per epoch; visadapt steps per batch), consistency loss 1.0.
_COMMON: dict[str, Any] = dict(
    optimizer=dict(type="AdamW", lr=5e-3, weight_decay=0.01, eps=1e-6),
    scheduler=dict(type="cosine", warmup_epochs=10, min_lr_ratio=0.0),
    trainer=dict(max_epochs=100),
    batch_size=128,
)


def _recipe(hidden_dim: int, lr: float, share: str = "down", num: int = 4) -> dict[str, Any]:
    return dict(
        _COMMON,
        adapter=dict(type="mosa", hidden_dim=hidden_dim, share=share, num_subadapters=num, seed=3407),
        optimizer=dict(_COMMON["optimizer"], lr=lr),
    )


RECIPES: dict[str, dict[str, Any]] = {
    "vtab": _recipe(16, 5e-3),
    "cub": _recipe(64, 1e-3),
    "flowers": _recipe(64, 5e-3),
    "cars": _recipe(64, 5e-3, share="up", num=2),
    "dogs": _recipe(64, 5e-4),
    "nabirds": _recipe(64, 5e-4),
    "gicd": _recipe(64, 5e-4),  # CIFAR-100, Food-101, Aircraft
}
