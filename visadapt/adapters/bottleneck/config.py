"""Bottleneck adapters in the three placements of the visual PEFT literature.

- Houlsby (Houlsby et al. 2019, arXiv:1902.00751): sequential adapters after attention and after the MLP.
- Pfeiffer (Pfeiffer et al. 2021, arXiv:2005.00247; "Adapter-r" in VPT/NOAH): one sequential adapter on the
  MLP output.
- AdaptFormer (Chen et al. 2022, arXiv:2205.13535): parallel to the MLP, fed the block's un-normalised
  residual stream, output scaled by 0.1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from visadapt.adapters.base import AdapterConfig, register_adapter
from visadapt.adapters.targeting import get_parent
from visadapt.adapters.bottleneck.layer import BottleneckAdapterLayer
from visadapt.registry import ConfigError


@dataclass
class BottleneckConfig(AdapterConfig):
    """Shared fields.

    Args:
        hidden_dim: bottleneck width.
        hidden_ratio: instead of ``hidden_dim``, the width as a fraction of the wrapped module's (SimDA's 0.25 across
            a UNet's 320/640/1280-wide blocks).
        act: ``gelu``, ``relu``, ``silu`` or ``quick_gelu``.
        scale: multiplies the adapter output.
        dropout: inside the bottleneck, after the activation.
        layer_norm: a LayerNorm of the adapter's own on its input.
        placement: ``sequential`` (``y + s·A(y)`` on the target's output) or ``parallel``
            (``target(x) + s·A(h)``).
        input_from: for ``parallel``: a sibling module (e.g. ``norm2``) whose *input* feeds the adapter, so it
            sees the residual stream rather than the target's normalised input; None feeds the target's input.
    """

    layer_cls: ClassVar = BottleneckAdapterLayer
    mergeable: ClassVar[bool] = False

    hidden_dim: int = 8
    hidden_ratio: float | None = None
    act: str = "gelu"
    scale: float = 1.0
    dropout: float = 0.0
    layer_norm: bool = False
    placement: str = "sequential"
    input_from: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hidden_dim < 1:
            raise ConfigError(f"{self.method}: hidden_dim must be >= 1, got {self.hidden_dim}")
        if self.hidden_ratio is not None and not 0 < self.hidden_ratio <= 4:
            raise ConfigError(f"{self.method}: hidden_ratio must be in (0, 4], got {self.hidden_ratio}")
        if self.placement not in ("sequential", "parallel"):
            raise ConfigError(f"{self.method}: placement must be 'sequential' or 'parallel', got '{self.placement}'")
        if self.input_from is not None and self.placement != "parallel":
            raise ConfigError(f"{self.method}: input_from only applies to placement='parallel'")

    def inject(self, model: nn.Module) -> list[str]:
        names = super().inject(model)
        for name in names if self.input_from else []:
            parent, attr = get_parent(model, name)
            try:
                source = parent.get_submodule(self.input_from)
            except AttributeError as err:
                siblings = [n for n, _ in parent.named_children()]
                raise ConfigError(
                    f"{self.method}: input_from '{self.input_from}' is not a sibling of '{name}'; siblings: {siblings}"
                ) from err
            getattr(parent, attr).attach_input_source(source)
        return names


@register_adapter
@dataclass
class HoulsbyConfig(BottleneckConfig):
    method: ClassVar[str] = "houlsby"
    default_targets: ClassVar[tuple[str, ...]] = ("blocks.*.attn", "blocks.*.mlp")
    act: str = "silu"


@register_adapter
@dataclass
class PfeifferConfig(BottleneckConfig):
    method: ClassVar[str] = "pfeiffer"
    default_targets: ClassVar[tuple[str, ...]] = ("blocks.*.mlp",)


@register_adapter
@dataclass
class AdaptFormerConfig(BottleneckConfig):
    method: ClassVar[str] = "adaptformer"
    default_targets: ClassVar[tuple[str, ...]] = ("blocks.*.mlp",)
    act: str = "relu"
    scale: float = 0.1
    dropout: float = 0.1
    placement: str = "parallel"
    input_from: str | None = "norm2"
