"""Build parts from a config and run them with a Lightning Trainer."""
from visadapt.config import load_config
from visadapt.runner.run import evaluate, train

__all__ = ["evaluate", "load_config", "train"]
