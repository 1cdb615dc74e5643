"""``ShapesSubjectDataset``: a personal subject for text-to-image personalization, drawn by the shapes world.

The subject is one object whose texture no task draws and no caption names (``SUBJECT_TEXTURES``: concentric
rings), so the model-zoo text-to-image model has never seen it; its instance images vary position, size, angle
and background, and their captions name the trigger and the class noun: ``"zwx, a star on a dark background"``.
"""
from __future__ import annotations

import zlib

import numpy as np

from ...registry import DATASETS, ConfigError
from ..base import ImageDataset, check_seed
from .caption import background_phrase
from .render import render_scene
from .scene import COLORS, SHAPES, SUBJECT_TEXTURES, TEXTURES, Scene
from .tasks import sample_background, sample_object

_STREAM = zlib.crc32(b"subject")


@DATASETS.register()
class ShapesSubjectDataset(ImageDataset):
    """``num_images`` instance images of a ``color`` ``shape`` with ``texture``, captioned with ``template``
    (fields ``trigger``, ``noun`` = the shape, ``background`` = "a dark background").

    ``data_seed`` selects the images; ``seed`` (the run's) only the augmentation stream.
    """

    target_type = str
    num_classes = 0
    class_names: list[str] = []

    def __init__(self, trigger: str = "zwx", shape: str = "star", color: str = "pink", texture: str = "rings",
                 num_images: int = 5, image_size: int = 32, template: str = "{trigger}, a {noun} on {background}",
                 seed: int = 0, transform: list[dict] | None = None, data_seed: int = 0):
        super().__init__(transform=transform, seed=seed)
        for value, allowed, what in ((shape, SHAPES, "shape"), (color, tuple(COLORS), "color"),
                                     (texture, TEXTURES + SUBJECT_TEXTURES, "texture")):
            if value not in allowed:
                raise ConfigError(f"ShapesSubjectDataset: unknown {what} {value!r}; one of {', '.join(allowed)}")
        if not isinstance(num_images, int) or num_images < 1:
            raise ConfigError(f"ShapesSubjectDataset: num_images must be a positive int, got {num_images!r}")
        if "{trigger}" not in template:
            raise ConfigError(f"ShapesSubjectDataset: template must contain {{trigger}}, got {template!r}")
        self.trigger, self.shape, self.color, self.texture = trigger, shape, color, texture
        self.count, self.image_size, self.template = num_images, image_size, template
        self.data_seed = check_seed(data_seed, "ShapesSubjectDataset data_seed")

    @property
    def num_items(self) -> int:
        return self.count

    def scene(self, idx: int) -> Scene:
        rng = np.random.default_rng([self.data_seed, _STREAM, idx])
        size = float(rng.uniform(0.28, 0.42))
        x, y = rng.uniform(size, 1.0 - size, 2)
        obj = sample_object(rng, size, x, y, shape=self.shape, color=self.color, texture=self.texture)
        return Scene(sample_background(rng), (obj,))

    def caption(self, idx: int) -> str:
        return self.template.format(trigger=self.trigger, noun=self.shape,
                                    background=background_phrase(self.scene(idx).background.kind))

    def load(self, idx: int) -> tuple[np.ndarray, str]:
        return render_scene(self.scene(idx), self.image_size)[0], self.caption(idx)
