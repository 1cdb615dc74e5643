"""scikit-learn's 8x8 handwritten digits (1797 images, shipped inside scikit-learn): a tiny real-image dataset.

Splits come from one fixed stratified ordering of the 1797 images: ``train800`` = the first 800, ``val200`` the
next 200, ``train800val200`` their union (1000) and ``test`` the remaining 797; ``train`` and ``val`` are aliases
of ``train800`` and ``val200``. Any prefix of the ordering has close to equal class counts.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from ..registry import DATASETS, ConfigError
from .base import ImageDataset

SPLIT_SEED = 0  # the split is part of the dataset's definition, independent of the augmentation seed
SPLITS = {
    "train800": slice(0, 800),
    "val200": slice(800, 1000),
    "train800val200": slice(0, 1000),
    "test": slice(1000, None),
    "train": slice(0, 800),
    "val": slice(800, 1000),
}


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A permutation in which each class is spread evenly: item of rank r in class c gets key (r + u) / n_c."""
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels))
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        keys[members] = (np.arange(len(members)) + rng.uniform(size=len(members))) / len(members)
    return np.argsort(keys, kind="stable")


@DATASETS.register()
class DigitsDataset(ImageDataset):
    """Digits 0-9 as white-on-black 3-channel uint8 images, upsampled bilinearly to ``image_size``."""

    def __init__(
        self, split: str = "train800", image_size: int = 32, transform: list[dict] | None = None, seed: int = 0
    ):
        super().__init__(transform=transform, seed=seed)
        if split not in SPLITS:
            raise ConfigError(f"DigitsDataset: unknown split '{split}'; valid splits: {', '.join(SPLITS)}")
        if not isinstance(image_size, int) or image_size < 8:
            raise ConfigError(f"DigitsDataset: 'image_size' must be an int >= 8, got {image_size!r}")
        from sklearn.datasets import load_digits  # deferred: importing scikit-learn takes about a second

        digits = load_digits()
        chosen = stratified_order(digits.target, SPLIT_SEED)[SPLITS[split]]
        pixels = np.rint(digits.images[chosen] * (255.0 / 16.0)).astype(np.uint8)
        self.images = np.stack([_upsample(p, image_size) for p in pixels])
        self.targets = digits.target[chosen].astype(np.int64)
        self.split, self.image_size = split, image_size
        self.num_classes = 10
        self.class_names = [str(d) for d in range(10)]

    @property
    def num_items(self) -> int:
        return len(self.targets)

    def load(self, idx: int) -> tuple[np.ndarray, int]:
        return self.images[idx], int(self.targets[idx])

    def label(self, idx: int) -> int:
        return int(self.targets[idx])


def _upsample(pixels: np.ndarray, size: int) -> np.ndarray:
    grey = np.asarray(Image.fromarray(pixels).resize((size, size), Image.BILINEAR))
    return np.repeat(grey[:, :, None], 3, axis=2)
