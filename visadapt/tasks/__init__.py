"""LightningModules, one per job family; they take already-built parts."""
from visadapt.tasks.base import AdaptedTask, NonFiniteLossError
from visadapt.tasks.classification import ClassificationTask
from visadapt.tasks.clip_classification import CLIPClassificationTask, CLIPLinearProbeTask
from visadapt.tasks.prolip import ProLIPTask
from visadapt.tasks.clip_contrastive import CLIPContrastiveTask
from visadapt.tasks.segmentation import SegmentationTask
from visadapt.tasks.text_to_image import AutoencoderTask, TextToImageTask
from visadapt.tasks.video import VideoTuningTask

__all__ = ["AdaptedTask", "CLIPClassificationTask", "CLIPContrastiveTask", "CLIPLinearProbeTask", "ClassificationTask",
           "NonFiniteLossError", "ProLIPTask", "SegmentationTask", "AutoencoderTask", "TextToImageTask",
           "VideoTuningTask"]
