"""Corruption-benchmark datasets: corrupt any visadapt dataset on the fly, or read CIFAR-10-C / ImageNet-C from disk.

On-disk layouts (Hendrycks & Dietterich's releases):

* CIFAR-10-C: ``root/<corruption>.npy`` of shape (5 * N, 32, 32, 3) uint8, severities 1..5 stacked (severity ``s``
  is rows ``(s - 1) * N : s * N``, N = 10000 in the release) and ``root/labels.npy`` (5 * N labels, the same N
  repeated per severity; N labels are accepted too).
* ImageNet-C: ``root/<corruption>/<severity>/<wnid>/*.JPEG``; classes are the sorted wnid folders.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...registry import DATASETS, ConfigError
from ..base import ImageDataset
from ..folder import ImageFolderDataset
from .functional import CORRUPTIONS, EXTRA_CORRUPTIONS, check_corruption, check_severity, corrupt

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
ON_DISK_CORRUPTIONS = CORRUPTIONS + EXTRA_CORRUPTIONS


@DATASETS.register()
class CorruptedDataset(ImageDataset):
    """Item ``i`` = ``corrupt(base image i, corruption, severity, rng)`` with the base dataset's label.

    ``base`` is a dataset instance or a ``DATASETS`` config dict. The base's own ``transform`` must be empty (its
    augmentation would run after ``load``, i.e. it cannot be applied before the corruption): give ``transform``
    here instead, it runs on the corrupted image. ``rng`` of item ``i`` is seeded by
    ``(seed, index of corruption in CORRUPTIONS, severity, i)``, so items are deterministic and independent of
    access order. ``cache=True`` keeps corrupted images in memory.
    """

    def __init__(
        self,
        base: dict | ImageDataset,
        corruption: str,
        severity: int,
        seed: int = 0,
        transform: list[dict] | None = None,
        cache: bool = False,
    ):
        super().__init__(transform=transform, seed=seed)
        check_corruption(corruption, where="CorruptedDataset")
        try:
            check_severity(severity)
        except ConfigError as err:
            raise ConfigError(f"CorruptedDataset: {err}") from None
        if isinstance(base, dict):
            base = DATASETS.build(base)
        if not isinstance(base, ImageDataset):
            raise ConfigError(f"CorruptedDataset: 'base' must be an ImageDataset or a DATASETS config dict, "
                              f"got {type(base).__name__}")
        if base.transform is not None:
            raise ConfigError(f"CorruptedDataset: the base dataset {type(base).__name__} has a 'transform'; it would "
                              f"not run before the corruption. Give the transform to CorruptedDataset instead")
        self.base, self.corruption, self.severity = base, corruption, int(severity)
        self.num_classes, self.class_names = base.num_classes, list(base.class_names)
        self._corruption_index = CORRUPTIONS.index(corruption)
        self._cache: dict[int, tuple[np.ndarray, int]] | None = {} if cache else None

    @property
    def num_items(self) -> int:
        return self.base.num_items

    def load(self, idx: int) -> tuple[np.ndarray, int]:
        if self._cache is not None and idx in self._cache:
            return self._cache[idx]
        image, target = self.base.load(idx)
        rng = np.random.default_rng([self.seed, self._corruption_index, self.severity, idx])
        item = corrupt(image, self.corruption, self.severity, rng), int(target)
        if self._cache is not None:
            self._cache[idx] = item
        return item


@DATASETS.register()
class CIFAR10CDataset(ImageDataset):
    """CIFAR-10-C from ``root/<corruption>.npy`` + ``root/labels.npy``; the first ``num_samples`` images of the
    severity (all by default, in the stored order as RobustBench's ``load_cifar10c`` without shuffling)."""

    num_classes = 10

    def __init__(
        self,
        root: str | Path,
        corruption: str,
        severity: int,
        num_samples: int | None = None,
        transform: list[dict] | None = None,
        seed: int = 0,
    ):
        super().__init__(transform=transform, seed=seed)
        check_corruption(corruption, ON_DISK_CORRUPTIONS, where="CIFAR10CDataset")
        try:
            check_severity(severity)
        except ConfigError as err:
            raise ConfigError(f"CIFAR10CDataset: {err}") from None
        self.root, self.corruption, self.severity = Path(root), corruption, int(severity)
        self.class_names = list(CIFAR10_CLASSES)
        data_file, label_file = self.root / f"{corruption}.npy", self.root / "labels.npy"
        missing = [str(p) for p in (data_file, label_file) if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"CIFAR10CDataset: missing file(s) {', '.join(missing)}; expected "
                                    f"root/<corruption>.npy and root/labels.npy under '{self.root}'")
        images = np.load(data_file, mmap_mode="r")
        labels = np.load(label_file)
        if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8 or len(images) % 5:
            raise ConfigError(f"CIFAR10CDataset: '{data_file}' must be a uint8 array (5 * N, H, W, 3) with the five "
                              f"severities stacked, got {images.dtype} {images.shape}")
        per_severity = len(images) // 5
        start = (self.severity - 1) * per_severity
        if len(labels) == len(images):
            labels = labels[start:start + per_severity]
        elif len(labels) != per_severity:
            raise ConfigError(f"CIFAR10CDataset: '{label_file}' has {len(labels)} labels; expected {len(images)} "
                              f"(one per row of '{data_file}') or {per_severity} (one per image of a severity)")
        if num_samples is not None and not (isinstance(num_samples, int) and 0 < num_samples <= per_severity):
            raise ConfigError(f"CIFAR10CDataset: 'num_samples' must be an int in 1..{per_severity}, got {num_samples!r}")
        self.size = per_severity if num_samples is None else num_samples
        self.images = images[start:start + self.size]
        self.labels = np.asarray(labels[:self.size], dtype=np.int64)
        if self.labels.min() < 0 or self.labels.max() >= self.num_classes:
            raise ConfigError(f"CIFAR10CDataset: labels in '{label_file}' must be in 0..9, "
                              f"got {self.labels.min()}..{self.labels.max()}")

    @property
    def num_items(self) -> int:
        return self.size

    def load(self, idx: int) -> tuple[np.ndarray, int]:
        return np.array(self.images[idx]), int(self.labels[idx])


@DATASETS.register()
class ImageNetCDataset(ImageFolderDataset):
    """ImageNet-C: the class folders of ``root/<corruption>/<severity>/`` (an ImageFolderDataset on that folder)."""

    def __init__(
        self,
        root: str | Path,
        corruption: str,
        severity: int,
        transform: list[dict] | None = None,
        seed: int = 0,
    ):
        check_corruption(corruption, ON_DISK_CORRUPTIONS, where="ImageNetCDataset")
        try:
            check_severity(severity)
        except ConfigError as err:
            raise ConfigError(f"ImageNetCDataset: {err}") from None
        folder = Path(root) / corruption / str(int(severity))
        if not folder.is_dir():
            raise FileNotFoundError(f"ImageNetCDataset: folder '{folder}' not found; expected "
                                    f"root/<corruption>/<severity>/<wnid>/*.JPEG under '{root}'")
        super().__init__(root=folder, transform=transform, seed=seed)
        self.corruption, self.severity = corruption, int(severity)
