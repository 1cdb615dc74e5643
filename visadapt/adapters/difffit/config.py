"""DiffFit configuration (Xie et al., "DiffFit: Unlocking Transferability of Large Diffusion Models via Simple
Parameter-Efficient Fine-Tuning", ICCV 2023, arXiv:2304.06648)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from visadapt.adapters.base import AdapterConfig, register_adapter
from visadapt.adapters.difffit.layer import BranchScale
from visadapt.registry import ConfigError


@register_adapter
@dataclass
class DiffFitConfig(AdapterConfig):
    """BitFit plus LayerNorm affines plus a learnable γ on each residual branch, identity at init.

    γ sits on the branch's last projection (``attn.proj``, ``mlp.fc2``) rather than in the ``ls1``/``ls2``
    slots, so that merging folds it into that projection and the merged model is a stock timm model.

    Args:
        gamma_init: initial γ (the paper uses 1.0, the identity).
        per_channel: one γ per channel; False gives one scalar per branch.
        train_bias: also train every bias of the model.
        train_norm: also train the weights and biases of every LayerNorm.
    """

    method: ClassVar[str] = "difffit"
    layer_cls: ClassVar = BranchScale
    default_targets: ClassVar[tuple[str, ...]] = ("blocks.*.attn.proj", "blocks.*.mlp.fc2")

    gamma_init: float = 1.0
    per_channel: bool = True
    train_bias: bool = True
    train_norm: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.gamma_init <= 0:
            raise ConfigError(f"difffit: gamma_init must be > 0, got {self.gamma_init}")

    def owned_parameters(self, model: nn.Module) -> list[str]:
        names = super().owned_parameters(model)
        for mname, module in model.named_modules():
            norm = self.train_norm and isinstance(module, nn.LayerNorm)
            for pname, _ in module.named_parameters(recurse=False):
                if norm or (self.train_bias and pname == "bias"):
                    names.append(f"{mname}.{pname}" if mname else pname)
        return list(dict.fromkeys(names))
