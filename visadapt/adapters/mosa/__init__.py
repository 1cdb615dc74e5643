"""MoSA: sparse sub-adapters trained stochastically, merged into one plain bottleneck adapter.

Importing this package registers the ``mosa`` adapter type.
"""
from visadapt.adapters.mosa.config import RECIPES, MoSAConfig
from visadapt.adapters.mosa.functional import (
    consistency_weight,
    draw_state,
    load_draw_state,
    merge_subadapters,
    mosa_layers,
)
from visadapt.adapters.mosa.layer import MoSALayer, SplitBottleneck, SplitLinear
from visadapt.adapters.mosa.loss import symmetric_kl
from visadapt.adapters.mosa.optim import attach_optimizer


def __getattr__(name: str):
    if name == "MoSACallback":  # imports Lightning: only on demand
        from visadapt.adapters.mosa.callback import MoSACallback

        return MoSACallback
    raise AttributeError(f"module 'visadapt.adapters.mosa' has no attribute {name!r}")


__all__ = [
    "MoSACallback",
    "MoSAConfig",
    "MoSALayer",
    "RECIPES",
    "SplitBottleneck",
    "SplitLinear",
    "attach_optimizer",
    "consistency_weight",
    "draw_state",
    "load_draw_state",
    "merge_subadapters",
    "mosa_layers",
    "symmetric_kl",
]
