"""The procedural, offline "shapes world": scenes of coloured, textured shapes that give classification tasks
now and captions, instance / shadow / class masks for segmentation, videos of moving objects and captioned clips
for video tuning."""
from .caption import background_phrase, caption, object_phrase
from .caption_dataset import CAPTION_TASKS, ShapesCaptionDataset
from .dataset import ShapesDataset
from .render import move_scene, render_background, render_layers, render_scene, render_video
from .scene import BACKGROUNDS, COLORS, SHAPES, SUBJECT_TEXTURES, TEXTURES, Background, Scene, Shadow, ShapeObject
from .segmentation import ShapesSegmentationDataset
from .subject import ShapesSubjectDataset
from .tasks import SHAPES_TASKS, ShapesTask, sample_background, sample_object
from .video_clip import MOTIONS, ShapesClipDataset

__all__ = [
    "BACKGROUNDS",
    "CAPTION_TASKS",
    "COLORS",
    "MOTIONS",
    "SHAPES",
    "SHAPES_TASKS",
    "SUBJECT_TEXTURES",
    "TEXTURES",
    "Background",
    "Scene",
    "Shadow",
    "ShapeObject",
    "ShapesCaptionDataset",
    "ShapesClipDataset",
    "ShapesDataset",
    "ShapesSegmentationDataset",
    "ShapesSubjectDataset",
    "ShapesTask",
    "background_phrase",
    "caption",
    "move_scene",
    "object_phrase",
    "render_background",
    "render_layers",
    "render_scene",
    "render_video",
    "sample_background",
    "sample_object",
]
