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
    code path: the output is split into chunks of ``width`` and chunk ``chunk_ids[j]`` gets update j. (Split, add
    and concatenate save nothing for backward, unlike an ``index_add`` that keeps its whole source.)
    """

    adapter_param_names: ClassVar[tuple[str, ...]] = ("lora_A", "lora_B")
    mergeable: ClassVar[bool] = True
    additive: ClassVar[bool] = True

    def __init__(self, base_layer: nn.Module, config: "LoRAConfig"):
        super().__init__(base_layer, config)
        linear = self.get_base_layer()
        if not isinstance(linear, nn.Linear):
            raise ConfigError(f"lora targets nn.Linear layers; got {type(linear).__name__}")
        out_features, in_features = linear.weight.shape
        if config.qkv_slices is None:
            chunk_ids, width = [0], out_features
        else:
            if out_features % 3:
                raise ConfigError(f"lora qkv_slices needs a fused q|k|v projection; out_features={out_features}")
            width = out_features // 3
            chunk_ids = [("q", "k", "v").index(s) for s in config.qkv_slices]
        self.scale = config.scale
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        factory = dict(device=linear.weight.device, dtype=linear.weight.dtype)
        self.lora_A = nn.Parameter(torch.empty(len(chunk_ids), config.r, in_features, **factory))
        self.lora_B = nn.Parameter(torch.zeros(len(chunk_ids), width, config.r, **factory))
        self.chunk_ids, self.width = chunk_ids, width
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
        """The updates of the adapted chunks, shape [..., slices, width]."""
        h = torch.einsum("...i,sri->...sr", self.dropout(x), self.lora_A)
        return torch.einsum("...sr,sor->...so", h, self.lora_B) * self.scale

    def adapted_forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base_layer(x)
        delta = self.delta(x)
        chunks = list(y.split(self.width, dim=-1))
        for j, chunk in enumerate(self.chunk_ids):
            chunks[chunk] = chunks[chunk] + delta[..., j, :]
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=-1)

    def delta_weight(self) -> torch.Tensor:
        """``s · B_j A_j`` per slice, [slices, width, in]."""
        return torch.bmm(self.lora_B, self.lora_A) * self.scale

    def delta_fold(self, sign: int) -> None:
        weight = self.get_base_layer().weight
        delta = self.delta_weight().to(weight.dtype)
        if not torch.isfinite(delta).all():
            raise ValueError("lora merge: the update contains non-finite values; refusing to corrupt the weights")
        rows = weight.split(self.width, dim=0)
        for j, chunk in enumerate(self.chunk_ids):
            rows[chunk].add_(delta[j], alpha=sign)
