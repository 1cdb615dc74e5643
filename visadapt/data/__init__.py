"""Datasets (all registered in ``DATASETS``), seeded augmentation pipelines and the offline shapes world."""
from .base import EpochSampler, ImageDataset
from .coop import COOP_DATASETS, COOP_TEMPLATES, CoOpDataset
from .corruptions import CORRUPTIONS, CIFAR10CDataset, CorruptedDataset, ImageNetCDataset, corrupt
from .digits import DigitsDataset
from .fewshot import FewShotDataset, draw_few_shot
from .folder import FGVCJsonDataset, ImageFolderDataset, VTABListDataset
from .prompts import PromptDataset
from .segmentation import MaskFolderDataset, SegmentationDataset
from .shapes import (SHAPES_TASKS, ShapesCaptionDataset, ShapesDataset, ShapesSegmentationDataset, caption, render_scene,
                     render_video)
from .subject_folder import SubjectFolderDataset
from .transforms import build_transforms

__all__ = [
    "PromptDataset",
    "SubjectFolderDataset",
    "COOP_DATASETS",
    "COOP_TEMPLATES",
    "CORRUPTIONS",
    "CIFAR10CDataset",
    "CoOpDataset",
    "CorruptedDataset",
    "ImageNetCDataset",
    "SHAPES_TASKS",
    "DigitsDataset",
    "EpochSampler",
    "FGVCJsonDataset",
    "FewShotDataset",
    "ImageDataset",
    "ImageFolderDataset",
    "MaskFolderDataset",
    "SegmentationDataset",
    "ShapesCaptionDataset",
    "ShapesDataset",
    "ShapesSegmentationDataset",
    "VTABListDataset",
    "build_transforms",
    "caption",
    "corrupt",
    "draw_few_shot",
    "render_scene",
    "render_video",
]
