"""How the demo's tabs launch a training run: a config with the tab's overrides through ``visadapt.runner``'s train
(the same code path as ``tools/train.py``), reporting progress step by step, so every tab saves an ordinary run
directory."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import lightning as L

ROOT = Path(__file__).resolve().parents[2]
Report = Callable[[float, str], None]


class ProgressCallback(L.Callback):
    """Reports (fraction done, message) after every training step."""

    def __init__(self, report: Report):
        self.report = report

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        total = max(1, int(trainer.estimated_stepping_batches))
        loss = trainer.callback_metrics.get("train/loss")
        self.report(min(1.0, trainer.global_step / total),
                    f"step {trainer.global_step}/{total}" + (f", loss {float(loss):.4f}" if loss is not None else ""))


def run_name(prefix: str) -> str:
    """A run's folder name: ``prefix`` and the launch time, so runs sort by age and do not collide."""
    return f"{prefix}_{time.strftime('%Y%m%d_%H%M%S')}"


def launch(config: str, options: dict, work_root: Path, report: Report) -> Path:
    """Train ``configs/<config>`` with ``options`` applied under ``work_root``; returns the run directory."""
    from visadapt.config import load_config
    from visadapt.runner import train

    cfg = load_config(ROOT / "configs" / config, options)
    results = train(cfg, work_root, callbacks=[ProgressCallback(report)])
    return Path(results["run_dir"])
