"""DiffFit's γ: a scale on the last projection of a residual branch, which scales the whole branch."""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from visadapt.adapters.ssf.layer import ScaleShift

if TYPE_CHECKING:
    from visadapt.adapters.difffit.config import DiffFitConfig


class BranchScale(ScaleShift):
    """``γ ⊙ proj(x)``: on ``attn.proj`` / ``mlp.fc2`` this is ``γ ⊙ branch(x)``, since the dropout and the
    (identity) LayerScale after them are element-wise; it folds back into the projection, leaving stock timm."""

    adapter_param_names: ClassVar[tuple[str, ...]] = ("scale",)

    def __init__(self, base_layer: nn.Module, config: "DiffFitConfig"):
        super().__init__(base_layer, config, shift=False, per_channel=config.per_channel)
        with torch.no_grad():
            self.scale.fill_(config.gamma_init)
