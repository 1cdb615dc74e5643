"""LoRA configuration (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", arXiv:2106.09685)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from visadapt.adapters.base import AdapterConfig, register_adapter
from visadapt.adapters.lora.layer import LoRALinear
from visadapt.registry import ConfigError

QKV = ("q", "k", "v")


@register_adapter
@dataclass
class LoRAConfig(AdapterConfig):
    """Low-rank update ``W + s·B A`` on Linear layers.

    Args:
        r: rank.
        alpha: scale numerator; ``s = alpha / r`` (or ``alpha / sqrt(r)`` with ``use_rslora``). The visual PEFT
            tables' "LoRA-8" (NOAH) is r=8 with scale 1, i.e. ``alpha = r``.
        dropout: dropout on the LoRA input.
        init: ``kaiming`` (A Kaiming-uniform(a=sqrt 5) as nn.Linear, B zero) or ``gaussian`` (A ~ N(0, 1/r)).
        qkv_slices: on a fused ``qkv`` projection, adapt only these of ``q``, ``k``, ``v`` (each with its own A, B);
            None adapts the whole output as one matrix.
    """

    method: ClassVar[str] = "lora"
    layer_cls: ClassVar = LoRALinear
    default_targets: ClassVar[tuple[str, ...]] = ("blocks.*.attn.qkv",)

    r: int = 8
    alpha: float = 8.0
    dropout: float = 0.0
    init: str = "kaiming"
    use_rslora: bool = False
    qkv_slices: list[str] | None = field(default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.r < 1:
            raise ConfigError(f"lora: r must be >= 1, got {self.r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"lora: dropout must be in [0, 1), got {self.dropout}")
        if self.init not in ("kaiming", "gaussian"):
            raise ConfigError(f"lora: init must be 'kaiming' or 'gaussian', got '{self.init}'")
        if self.qkv_slices is not None:
            self.qkv_slices = list(self.qkv_slices)
            names = set(self.qkv_slices)
            if not names or not names <= set(QKV) or len(names) != len(self.qkv_slices):
                raise ConfigError(f"lora: qkv_slices must be distinct names from {QKV}, got {self.qkv_slices}")

    @property
    def scale(self) -> float:
        return self.alpha / (self.r ** 0.5 if self.use_rslora else self.r)
