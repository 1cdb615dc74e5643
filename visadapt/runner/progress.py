"""Training progress that reads well where it is shown: Lightning's Rich bar on a terminal, plain lines in a file.

A Rich bar redraws one terminal line, so output redirected to a file shows nothing until the end; and Lightning's
bar says ``Epoch 1270/-2`` for a run bounded by ``max_steps`` (``max_epochs=-1``, the few-shot recipes).
"""
from __future__ import annotations

import sys
import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar
from lightning.pytorch.utilities.imports import _RICH_AVAILABLE

LINES_PER_RUN = 20  # plain lines of a step-bounded run (one per epoch otherwise)


def step_bounded(trainer: L.Trainer) -> bool:
    return trainer.max_epochs == -1 and trainer.max_steps > 0


class StepAwareRichProgressBar(RichProgressBar):
    """Lightning's Rich bar, saying ``Epoch 1270 (max_steps 1600)`` instead of ``Epoch 1270/-2`` when the run is
    bounded by steps."""

    def _get_train_description(self, current_epoch: int) -> str:
        if not step_bounded(self.trainer):
            return super()._get_train_description(current_epoch)
        return f"Epoch {current_epoch} (max_steps {self.trainer.max_steps})"


class PlainProgress(ProgressBar):
    """One plain line per epoch, or ``LINES_PER_RUN`` lines over a step-bounded run: epoch, step, the logged
    metrics and the time so far."""

    def __init__(self) -> None:
        super().__init__()
        self.enabled = True
        self.start = time.perf_counter()

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        every = max(1, trainer.max_steps // LINES_PER_RUN)
        if step_bounded(trainer) and trainer.global_step % every == 0:
            self.report(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not step_bounded(trainer):
            self.report(trainer)

    def report(self, trainer: L.Trainer) -> None:
        if not (self.enabled and trainer.is_global_zero):
            return
        where = (f"step {trainer.global_step}/{trainer.max_steps} (epoch {trainer.current_epoch})"
                 if step_bounded(trainer) else f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} "
                                               f"(step {trainer.global_step})")
        metrics = [f"{k} {float(v):.4f}" for k, v in sorted(trainer.callback_metrics.items())
                   if isinstance(v, torch.Tensor) and v.numel() == 1]
        print("  ".join([where, *metrics, f"{time.perf_counter() - self.start:.1f} s"]), flush=True)


def progress_callbacks(trainer_kwargs: dict[str, Any]) -> list[L.Callback]:
    """The progress callback for this output: none when the config turns the bar off."""
    if trainer_kwargs.get("enable_progress_bar", True) is False:
        return []
    if not sys.stdout.isatty():
        return [PlainProgress()]
    return [StepAwareRichProgressBar()] if _RICH_AVAILABLE else []
