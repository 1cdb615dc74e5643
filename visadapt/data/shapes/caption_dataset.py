"""``ShapesCaptionDataset``: (image, caption) pairs of the shapes world, for contrastive image-text pretraining."""
from __future__ import annotations

import numpy as np

from ...registry import DATASETS, ConfigError
from ..base import ImageDataset
from .caption import caption
from .dataset import ShapesDataset

# Scenes whose captions name shapes, colours, textures, backgrounds and several objects; the captions never
# mention position, size, orientation or distance, which is what makes those tasks new to a CLIP trained on them.
CAPTION_TASKS = ("shape", "shape_multi", "color", "texture", "background", "count")


@DATASETS.register()
class ShapesCaptionDataset(ImageDataset):
    """The scenes of several shapes-world tasks on one split, each with its caption as the target.

    Item ``i`` is item ``i // T`` of task ``tasks[i % T]`` (T tasks), so every prefix mixes the tasks evenly;
    ``num_samples`` takes such a prefix. Images and captions are exactly those of ``ShapesDataset`` and
    ``visadapt.data.caption`` for the same ``data_seed``.
    """

    target_type = str
    num_classes = 0
    class_names: list[str] = []

    def __init__(
        self,
        tasks: list[str] | tuple[str, ...] = CAPTION_TASKS,
        split: str = "train",
        image_size: int = 32,
        seed: int = 0,
        num_samples: int | None = None,
        transform: list[dict] | None = None,
        data_seed: int = 0,
    ):
        super().__init__(transform=transform, seed=seed)
        if not tasks:
            raise ConfigError("ShapesCaptionDataset: 'tasks' is empty")
        self.parts = [ShapesDataset(t, split, image_size, data_seed=data_seed) for t in tasks]
        total = len(self.parts) * min(len(p) for p in self.parts)
        if num_samples is not None and not 0 < num_samples <= total:
            raise ConfigError(f"ShapesCaptionDataset: 'num_samples' must be in 1..{total}, got {num_samples!r}")
        self.size = total if num_samples is None else int(num_samples)

    @property
    def num_items(self) -> int:
        return self.size

    def load(self, idx: int) -> tuple[np.ndarray, str]:
        part, j = self.parts[idx % len(self.parts)], idx // len(self.parts)
        return part.load(j)[0], caption(part.scene(j))
