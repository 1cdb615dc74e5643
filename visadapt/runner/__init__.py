"""Build parts from a config and run them with a Lightning Trainer.

``train`` and ``evaluate`` are imported on first use: tools check their config (``load_config``, light) before
paying for Lightning's import, and ``visadapt.runner.workdir`` stays light for tools that only need run folders.
"""
from typing import Any

from visadapt.config import load_config

__all__ = ["evaluate", "load_config", "train"]


def __getattr__(name: str) -> Any:
    if name in ("evaluate", "train"):
        from visadapt.runner import run

        return getattr(run, name)
    raise AttributeError(f"module 'visadapt.runner' has no attribute '{name}'")
