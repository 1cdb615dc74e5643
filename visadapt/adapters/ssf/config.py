"""SSF configuration (Lian et al., "Scaling & Shifting Your Features: A New Baseline for Efficient Model Tuning",
NeurIPS 2022, arXiv:2210.07240)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from visadapt.adapters.base import AdapterConfig, register_adapter
from visadapt.adapters.ssf.layer import ScaleShift
from visadapt.registry import ConfigError

INITS = ("normal", "identity")


@register_adapter
@dataclass
class SSFConfig(AdapterConfig):
    """A per-channel ``γ ⊙ y + β`` after each targeted Linear, LayerNorm or Conv2d; merges into it after training.

    The default targets are the paper's ViT placements: the patch projection (and its norm), ``norm1``, ``qkv``,
    ``attn.proj``, ``norm2``, ``fc1``, ``fc2`` in every block, and the final norm (``norm`` or ``fc_norm``,
    whichever the pooling uses). Targets that are ``nn.Identity`` slots (timm's unused norms) are skipped.

    Args:
        init: ``normal`` (the paper's γ ~ N(1, 0.02), β ~ N(0, 0.02): not the identity at init) or ``identity``
            (γ = 1, β = 0).
    """

    method: ClassVar[str] = "ssf"
    layer_cls: ClassVar = ScaleShift
    default_targets: ClassVar[tuple[str, ...]] = (
        "patch_embed.proj",
        "patch_embed.norm",
        "blocks.*.norm1",
        "blocks.*.attn.qkv",
        "blocks.*.attn.proj",
        "blocks.*.norm2",
        "blocks.*.mlp.fc1",
        "blocks.*.mlp.fc2",
        "norm",
        "fc_norm",
    )

    init: str = "normal"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.init not in INITS:
            raise ConfigError(f"ssf: init must be one of {INITS}, got '{self.init}'")

    def select_targets(self, model: nn.Module, names: list[str]) -> list[str]:
        return [n for n in names if not isinstance(model.get_submodule(n), nn.Identity)]

    def build_layer(self, module: nn.Module, name: str, index: int) -> ScaleShift:
        layer = ScaleShift(module, self)
        if self.init == "normal":
            layer.reset_parameters(std=0.02)
        return layer
