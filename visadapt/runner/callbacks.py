"""Lightning callbacks visadapt adds to every run."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import lightning as L

from visadapt import atomic
from visadapt.rng import rng_state, set_rng_state


class RNGStateCallback(L.Callback):
    """Stores the global RNG states in each checkpoint and restores them on resume.

    With the data loaders owning their own generators, the global RNG is only drawn by the model (dropout,
    stochastic adapters); restoring it makes a resumed run continue exactly like an uninterrupted one.
    Everything is stored as tensors and ints, so checkpoints still load with ``weights_only=True``.
    """

    def state_dict(self) -> dict[str, Any]:
        return rng_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        set_rng_state(state)


class AdapterExport(L.Callback):
    """Writes the adapter-only export (``adapter/``) when fitting ends, from global rank 0 only; written next to it
    and then moved in, so a kill never leaves a half-written export."""

    def __init__(self, directory: Path, metadata: dict[str, Any]):
        self.directory = Path(directory)
        self.metadata = metadata

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            staged = self.directory.with_name(f".{self.directory.name}.partial")
            shutil.rmtree(staged, ignore_errors=True)
            pl_module.export_adapter(staged, self.metadata)
            atomic.replace_directory(staged, self.directory)


class FlushLogsOnCheckpoint(L.Callback):
    """Saves the loggers' buffered rows before each checkpoint is written, so a killed run's logs always reach
    its last checkpoint (the CSV logger otherwise flushes every 100 steps and TensorBoard every 2 minutes)."""

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        for logger in trainer.loggers:
            logger.save()
