"""LightningModules, one per job family; they take already-built parts."""
from visadapt.tasks.base import AdaptedTask, NonFiniteLossError
from visadapt.tasks.classification import ClassificationTask
from visadapt.tasks.clip_contrastive import CLIPContrastiveTask

__all__ = ["AdaptedTask", "CLIPContrastiveTask", "ClassificationTask", "NonFiniteLossError"]
