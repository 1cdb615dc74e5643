"""``ShapesDataset``: VTAB-1k-style splits of a shapes-world task, rendered on demand, no download.

Each split reads a window of an endless, seeded stream of samples. Sample ``i`` of a stream has label
``i % num_classes`` (every prefix is balanced to within one sample per class) and a scene drawn from
``np.random.default_rng([data_seed, task_id, stream_id, i])``, where ``task_id`` is the CRC32 of the task name, so
adding tasks never changes existing data.
"""
from __future__ import annotations

import zlib

import numpy as np

from ...registry import DATASETS, ConfigError
from ..base import ImageDataset, check_seed
from .render import render_scene
from .scene import Scene
from .tasks import SHAPES_TASKS, ShapesTask

# split -> (stream id, offset in the stream, default size). train800val200 is exactly train800 followed by val200.
SPLITS: dict[str, tuple[int, int, int]] = {
    "train800": (0, 0, 800),
    "val200": (0, 800, 200),
    "train800val200": (0, 0, 1000),
    "test": (1, 0, 2000),
    "train": (2, 0, 20000),
}
CACHE_BYTES = 512 * 2**20  # rendered images are kept in memory when the whole split fits in this budget


@DATASETS.register()
class ShapesDataset(ImageDataset):
    """Task ``task`` of the procedural shapes world (see ``SHAPES_TASKS``) on split ``split``.

    ``num_samples`` overrides the split size (``train800`` may only shrink, to stay disjoint from ``val200``).
    ``data_seed`` selects the world's images; ``seed`` (the run's seed) only the augmentation stream, so runs
    with different seeds see the same data and their test scores are comparable.
    """

    def __init__(
        self,
        task: str = "shape",
        split: str = "train800",
        image_size: int = 32,
        seed: int = 0,
        num_samples: int | None = None,
        transform: list[dict] | None = None,
        data_seed: int = 0,
    ):
        super().__init__(transform=transform, seed=seed)
        self.data_seed = check_seed(data_seed, "ShapesDataset data_seed")
        if task not in SHAPES_TASKS:
            raise ConfigError(f"ShapesDataset: unknown task '{task}'; valid tasks: {', '.join(SHAPES_TASKS)}")
        if split not in SPLITS:
            raise ConfigError(f"ShapesDataset: unknown split '{split}'; valid splits: {', '.join(SPLITS)}")
        if not isinstance(image_size, int) or image_size < 8:
            raise ConfigError(f"ShapesDataset: 'image_size' must be an int >= 8, got {image_size!r}")
        self.task_name, self.split, self.image_size = task, split, image_size
        self.stream, self.offset, default_size = SPLITS[split]
        if num_samples is not None and not (0 < num_samples and (split != "train800" or num_samples <= 800)):
            limit = "1..800 for split 'train800'" if split == "train800" else "a positive int"
            raise ConfigError(f"ShapesDataset: 'num_samples' must be {limit}, got {num_samples!r}")
        self.size = default_size if num_samples is None else int(num_samples)
        self.task_id = zlib.crc32(task.encode())
        self.class_names = list(self.task.class_names)
        self.num_classes = len(self.class_names)
        self._cache: dict[int, np.ndarray] | None = {} if self.size * image_size**2 * 3 <= CACHE_BYTES else None

    @property
    def task(self) -> ShapesTask:
        return SHAPES_TASKS[self.task_name]

    @property
    def num_items(self) -> int:
        return self.size

    def label(self, idx: int) -> int:
        return (self.offset + idx) % self.num_classes

    def scene(self, idx: int) -> Scene:
        """The scene behind item ``idx`` (for captions, masks or videos: see ``render_scene``)."""
        if not 0 <= idx < self.size:
            raise IndexError(f"ShapesDataset({self.task_name!r}, {self.split!r}): index {idx} not in [0, {self.size})")
        rng = np.random.default_rng([self.data_seed, self.task_id, self.stream, self.offset + idx])
        return self.task.sample(rng, self.label(idx))

    def load(self, idx: int) -> tuple[np.ndarray, int]:
        image = None if self._cache is None else self._cache.get(idx)
        if image is None:
            image = render_scene(self.scene(idx), self.image_size)[0]
            if self._cache is not None:
                self._cache[idx] = image
        return image, self.label(idx)
