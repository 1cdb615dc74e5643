"""``ShapesSegmentationDataset``: masks of the shapes world (objects, cast shadows or per-shape classes), rendered
on demand with the scenes' exact visibility, no download.

Scenes hold 1-4 objects of random shape, colour, texture, size and rotation on a random background. With
``shadows=True`` every scene is lit by one light: each object casts its silhouette, shifted 0.06-0.12 image
units in a random direction, darkening the floor by 40-60 % (on light, gradient or noise floors; a shadow on a
near-black floor would be invisible). Splits and seeding follow ``ShapesDataset``: item ``i`` of a split is drawn
from ``np.random.default_rng([data_seed, crc32('segmentation'), stream, offset + i])``, so the same item has the
same objects whatever the target, and ``seed`` only drives augmentation.
"""
from __future__ import annotations

import math
import zlib

import numpy as np

from ...registry import DATASETS, ConfigError
from ..base import check_seed
from ..segmentation import SegmentationDataset
from .dataset import CACHE_BYTES, SPLITS
from .render import render_layers
from .scene import BACKGROUNDS, SHAPES, Scene, Shadow
from .tasks import scatter_scene

TARGETS = {
    "objects": ("background", "object"),
    "shadows": ("background", "shadow"),
    "shapes": ("background", *SHAPES),
}
OBJECT_RADII = (0.10, 0.24)
SHADOW_LENGTH = (0.06, 0.12)
SHADOW_STRENGTH = (0.4, 0.6)
SHADOW_FLOORS = tuple(b for b in BACKGROUNDS if b != "dark")


def sample_segmentation_scene(rng: np.random.Generator, shadows: bool) -> Scene:
    """1-4 scattered objects; with ``shadows``, a lit floor and one light direction for all of them."""
    count = int(rng.integers(1, 5))
    floors = SHADOW_FLOORS if shadows else BACKGROUNDS
    scene = scatter_scene(rng, count, OBJECT_RADII, background=floors[int(rng.integers(len(floors)))])
    if not shadows:
        return scene
    heading, length = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(*SHADOW_LENGTH)
    strength = float(rng.uniform(*SHADOW_STRENGTH))
    shadow = Shadow((float(length * math.cos(heading)), float(length * math.sin(heading))), strength)
    return Scene(scene.background, scene.objects, shadow)


@DATASETS.register()
class ShapesSegmentationDataset(SegmentationDataset):
    """Segment ``target`` in shapes-world scenes: ``objects`` (every object, binary), ``shadows`` (the visible
    cast shadows, binary; needs ``shadows=True``) or ``shapes`` (9 classes: background + the 8 shapes).

    Splits as ``ShapesDataset`` (``train800``, ``val200``, ``train800val200``, ``test``, ``train``);
    ``num_samples`` overrides the split size.
    """

    def __init__(self, target: str = "objects", split: str = "train800", image_size: int = 64,
                 shadows: bool = False, num_samples: int | None = None, data_seed: int = 0,
                 transform: list[dict] | None = None, seed: int = 0):
        super().__init__(transform=transform, seed=seed)
        if target not in TARGETS:
            raise ConfigError(f"ShapesSegmentationDataset: unknown target '{target}'; one of {', '.join(TARGETS)}")
        if target == "shadows" and not shadows:
            raise ConfigError("ShapesSegmentationDataset: target 'shadows' needs shadows=True")
        if split not in SPLITS:
            raise ConfigError(f"ShapesSegmentationDataset: unknown split '{split}'; one of {', '.join(SPLITS)}")
        if not isinstance(image_size, int) or image_size < 8:
            raise ConfigError(f"ShapesSegmentationDataset: 'image_size' must be an int >= 8, got {image_size!r}")
        self.stream, self.offset, size = SPLITS[split]
        if num_samples is not None and not (0 < num_samples and (split != "train800" or num_samples <= 800)):
            raise ConfigError(f"ShapesSegmentationDataset: 'num_samples' must be positive (at most 800 for "
                              f"'train800'), got {num_samples!r}")
        self.size = size if num_samples is None else int(num_samples)
        self.target, self.split, self.image_size, self.shadows = target, split, image_size, bool(shadows)
        self.data_seed = check_seed(data_seed, "ShapesSegmentationDataset data_seed")
        self.class_names = list(TARGETS[target])
        self.num_classes = len(self.class_names)
        fits = self.size * image_size**2 * 4 <= CACHE_BYTES
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if fits else None

    @property
    def num_items(self) -> int:
        return self.size

    def scene(self, idx: int) -> Scene:
        if not 0 <= idx < self.size:
            raise IndexError(f"ShapesSegmentationDataset({self.split!r}): index {idx} not in [0, {self.size})")
        rng = np.random.default_rng([self.data_seed, zlib.crc32(b"segmentation"), self.stream, self.offset + idx])
        return sample_segmentation_scene(rng, self.shadows)

    def mask(self, scene: Scene, objects: np.ndarray, shadow: np.ndarray) -> np.ndarray:
        if self.target == "shadows":
            return shadow.astype(np.uint8)
        if self.target == "objects":
            return objects.any(0).astype(np.uint8)
        classes = np.asarray([1 + SHAPES.index(o.shape) for o in scene.objects], np.uint8)
        return (objects * classes[:, None, None]).max(0, initial=0).astype(np.uint8)  # objects never overlap

    def load(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        item = None if self._cache is None else self._cache.get(idx)
        if item is None:
            scene = self.scene(idx)
            image, objects, shadow = render_layers(scene, self.image_size)
            item = (image, self.mask(scene, objects, shadow))
            if self._cache is not None:
                self._cache[idx] = item
        return item
