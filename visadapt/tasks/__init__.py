"""LightningModules, one per job family; they take already-built parts."""
from visadapt.tasks.classification import ClassificationTask, NonFiniteLossError

__all__ = ["ClassificationTask", "NonFiniteLossError"]
