"""The down-project / non-linearity / up-project block behind every bottleneck adapter."""
from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "quick_gelu": None}


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class Bottleneck(nn.Module):
    """``up(dropout(act(down(norm(x)))))`` with LoRA-style init (down random, up zero).

    Starting both projections at zero would leave every weight gradient at zero (act(0) = 0), so only the up
    bias would ever learn: a known bug of widely copied adapter code.
    """

    def __init__(self, dim: int, hidden: int, act: str = "gelu", dropout: float = 0.0, layer_norm: bool = False):
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f"bottleneck act must be one of {sorted(ACTIVATIONS)}, got '{act}'")
        self.norm = nn.LayerNorm(dim) if layer_norm else nn.Identity()
        self.down = nn.Linear(dim, hidden)
        self.act = QuickGELU() if act == "quick_gelu" else ACTIVATIONS[act]()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.up = nn.Linear(hidden, dim)
        with torch.no_grad():
            nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
            self.down.bias.zero_()
            self.up.weight.zero_()
            self.up.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.dropout(self.act(self.down(self.norm(x)))))
