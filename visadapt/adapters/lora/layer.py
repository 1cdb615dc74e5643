"""The LoRA wrapper for ``nn.Linear``, optionally restricted to q/k/v slices of a fused projection."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from visadapt.adapters.base import AdapterLayer
from visadapt.registry import ConfigError

if TYPE_CHECKING:
    from visadapt.adapters.lora.config import LoRAConfig


class LoRALinear(AdapterLayer):
    """``y = base(x) + s · B_j A_j dropout(x)`` added to output slice j (one slice = the whole output).

    ``lora_A`` is [slices, r, in] and ``lora_B`` [slices, width, r], so "whole qkv" and "q and v only" share one
    code path: the update is scattered into the output columns listed in ``out_index``.
    """

    adapter_param_names: ClassVar[tuple[str, ...]] = ("lora_A", "lora_B")
    mergeable: ClassVar[bool] = True

    def __init__(self, base_layer: nn.Module, config: "LoRAConfig"):
        if not isinstance(base_layer, nn.Linear):
            raise ConfigError(f"lora targets nn.Linear layers; got {type(base_layer).__name__}")
        super().__init__(base_layer, config)
        out_features, in_features = base_layer.weight.shape
        if config.qkv_slices is None:
            starts, width = [0], out_features
        else:
            if out_features % 3:
                raise ConfigError(f"lora qkv_slices needs a fused q|k|v projection; out_features={out_features}")
            width = out_features // 3
            starts = [("q", "k", "v").index(s) * width for s in config.qkv_slices]
        self.scale = config.scale
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        factory = dict(device=base_layer.weight.device, dtype=base_layer.weight.dtype)
        self.lora_A = nn.Parameter(torch.empty(len(starts), config.r, in_features, **factory))
        self.lora_B = nn.Parameter(torch.zeros(len(starts), width, config.r, **factory))
        index = torch.cat([torch.arange(s, s + width) for s in starts])
        self.register_buffer("out_index", index.to(base_layer.weight.device), persistent=False)
        self.whole = config.qkv_slices is None
        self.reset_parameters(config.init)

    def reset_parameters(self, init: str) -> None:
        with torch.no_grad():
            for a in self.lora_A:
                if init == "kaiming":
                    nn.init.kaiming_uniform_(a, a=math.sqrt(5))  # what nn.Linear(in, r) does
                else:
                    nn.init.normal_(a, std=1.0 / a.shape[0])
            self.lora_B.zero_()

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        """The update for the adapted columns, shape [..., slices * width]."""
        h = torch.einsum("...i,sri->...sr", self.dropout(x), self.lora_A)
        return torch.einsum("...sr,sor->...so", h, self.lora_B).flatten(-2) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base_layer(x)
        if self.whole:
            return y + self.delta(x)
        return y.index_add(-1, self.out_index, self.delta(x))

    def delta_weight(self) -> torch.Tensor:
        """``s · B_j A_j`` stacked as rows [slices * width, in]."""
        return torch.bmm(self.lora_B, self.lora_A).flatten(0, 1) * self.scale

    def merge(self) -> nn.Module:
        delta = self.delta_weight().to(self.base_layer.weight.dtype)
        if not torch.isfinite(delta).all():
            raise ValueError("lora merge: the update contains non-finite values; refusing to corrupt the weights")
        with torch.no_grad():
            self.base_layer.weight.index_add_(0, self.out_index, delta)
        return self.base_layer
