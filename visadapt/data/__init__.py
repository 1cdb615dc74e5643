"""Datasets (all registered in ``DATASETS``), seeded augmentation pipelines, the offline shapes world and video
clip IO."""
from .base import EpochSampler, ImageDataset
from .coop import COOP_DATASETS, COOP_TEMPLATES, CoOpDataset
from .corruptions import CORRUPTIONS, CIFAR10CDataset, CorruptedDataset, ImageNetCDataset, corrupt
from .digits import DigitsDataset
from .fewshot import FewShotDataset, draw_few_shot
from .folder import FGVCJsonDataset, ImageFolderDataset, VTABListDataset
from .prompts import PromptDataset
from .segmentation import MaskFolderDataset, SegmentationDataset
from .shapes import (SHAPES_TASKS, ShapesCaptionDataset, ShapesClipDataset, ShapesDataset, ShapesSegmentationDataset,
                     caption, render_scene, render_video)
from .subject_folder import SubjectFolderDataset
from .transforms import build_transforms
from .video_base import VideoClipDataset
from .video_folder import VideoFileDataset
from .video_io import (UnreadableVideoError, read_video, resize_frames, sample_frames, write_frame_strip, write_gif,
                       write_mp4)

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
    "ShapesClipDataset",
    "ShapesDataset",
    "ShapesSegmentationDataset",
    "UnreadableVideoError",
    "VTABListDataset",
    "VideoClipDataset",
    "VideoFileDataset",
    "build_transforms",
    "caption",
    "corrupt",
    "draw_few_shot",
    "render_scene",
    "read_video",
    "render_video",
    "resize_frames",
    "sample_frames",
    "write_frame_strip",
    "write_gif",
    "write_mp4",
]
