"""Lightning glue for MoSA: draw counters in checkpoints, optimiser hooks for ``momentum_on_inactive=False``.

Kept out of ``visadapt.adapters.mosa``'s eager imports (Lightning is slow to import); use
``from visadapt.adapters.mosa.callback import MoSACallback``.
"""
from __future__ import annotations

from typing import Any

import lightning as L

from visadapt.adapters.mosa.functional import draw_state, load_draw_state, mosa_layers
from visadapt.adapters.mosa.optim import attach_optimizer


class MoSACallback(L.Callback):
    """Stores the per-layer draw counters in each checkpoint (``checkpoint['callbacks']``) and restores them on
    resume, so a resumed run draws the same sub-adapters; attaches :func:`attach_optimizer` to the optimisers.

    The task's checkpoints keep only the adapter parameters; the partition and W0 are rebuilt from the config
    seed, so the counters are the only MoSA state that needs saving. Without this callback a resumed run restarts
    every layer's draw sequence from its beginning (still uniform, not the same sequence).
    """

    def __init__(self) -> None:
        self._module: Any = None
        self._pending: dict[str, int] | None = None
        self._hooks: list[Any] = []

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._module = pl_module

    def state_dict(self) -> dict[str, Any]:
        return {"draws": draw_state(self._module) if self._module is not None else {}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = dict(state_dict.get("draws", {}))

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning restores callback state before training starts; keys are names relative to the LightningModule.
        if self._pending is not None:
            load_draw_state(pl_module, self._pending, strict=False)
            self._pending = None
        for h in self._hooks:
            h.remove()
        self._hooks = [attach_optimizer(pl_module, opt) for opt in trainer.optimizers] if mosa_layers(pl_module) else []

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []

