"""Dataset base class and epoch-aware sampler that make augmentation a pure function of (seed, epoch, index).

A resumed run must replay exactly the augmentations of an uninterrupted one. Global RNG state cannot give that
(DataLoader workers, checkpoint timing), so the sampler encodes the epoch in the index it yields
(``epoch * len + j``) and the dataset seeds the augmentation of every item from ``(seed, epoch, idx)``.
"""
from __future__ import annotations

import abc
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..registry import ConfigError
from .transforms import build_transforms


def check_seed(seed: int, where: str) -> int:
    """Seeds feed ``np.random.SeedSequence``, which only takes non-negative integers."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"{where}: 'seed' must be a non-negative int, got {seed!r}")
    return int(seed)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """HxW[xC] uint8 (or float already in [0, 1]) -> float32 3xHxW in [0, 1]; grey images get 3 channels."""
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    # astype always copies, so the tensor never aliases a read-only (PIL) or cached array
    array = image.astype(np.float32) / np.float32(255.0) if image.dtype == np.uint8 else image.astype(np.float32)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


class ImageDataset(Dataset, abc.ABC):
    """Base of all visadapt datasets: ``(float32 3xHxW image in [0, 1], int target)`` with seeded augmentation.

    Subclasses set ``num_classes`` and ``class_names`` and implement ``num_items`` and ``load``. Indices at or
    past ``num_items`` come from :class:`EpochSampler` and select epoch ``i // num_items``; normalisation is left
    to the model wrapper.
    """

    num_classes: int
    class_names: list[str]
    # What ``__getitem__`` converts the target with: class indices here, strings for caption datasets.
    target_type: type = int

    def __init__(self, transform: list[dict] | None = None, seed: int = 0):
        self.seed = check_seed(seed, type(self).__name__)
        self.transform_spec = transform  # the config it was built from (identifies the augmentation)
        self.transform = build_transforms(transform)

    @property
    @abc.abstractmethod
    def num_items(self) -> int:
        """Number of distinct items (one epoch)."""

    @abc.abstractmethod
    def load(self, idx: int) -> tuple[np.ndarray, int]:
        """Item ``idx`` in ``[0, num_items)`` as (HxWx3 uint8 image, class index), before augmentation."""

    def label(self, idx: int) -> int:
        """Class of item ``idx`` (subclasses that know it without decoding the image override this)."""
        return int(self.load(idx)[1])

    def __len__(self) -> int:
        return self.num_items

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        if i < 0:
            raise IndexError(f"{type(self).__name__}: negative index {i}; indices are epoch * len + idx >= 0")
        return self.item(*divmod(int(i), self.num_items))

    def item(self, epoch: int, idx: int) -> tuple[torch.Tensor, Any]:
        """Item ``idx`` as seen in ``epoch``: the augmented image tensor and its target."""
        image, target = self.load(idx)
        image = self.augment(epoch, idx, image=image)["image"]
        return to_tensor(image), self.target_type(target)

    def augment(self, epoch: int, idx: int, **arrays: np.ndarray) -> dict[str, np.ndarray]:
        """The transform applied to ``image`` (and ``mask``, which albumentations moves with it), seeded by
        ``(seed, epoch, idx)``; the arrays unchanged without a transform."""
        if self.transform is None:
            return arrays
        seq = np.random.SeedSequence([self.seed, epoch, idx])
        # One shared generator for the whole pipeline: Compose.set_random_seed would give every transform the
        # same stream, so e.g. two p=0.5 flips would always fire together.
        self.transform.set_random_state(np.random.default_rng(seq), random.Random(int(seq.generate_state(1)[0])))
        return self.transform(**arrays)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        # Without this, Python's sequence protocol would iterate forever: every index >= 0 is valid (next epoch).
        return (self[i] for i in range(len(self)))


class EpochSampler(Sampler[int]):
    """Yields ``epoch * n + j`` for ``j`` over a permutation of ``range(n)`` seeded by ``(seed, epoch)``.

    Lightning calls ``set_epoch`` before each epoch, so the order (and, through the dataset, the augmentation)
    of every epoch is reproducible and independent of when the run was resumed.
    """

    def __init__(self, data_source_len: int, shuffle: bool = True, seed: int = 0):
        if data_source_len <= 0:
            raise ConfigError(f"EpochSampler: 'data_source_len' must be positive, got {data_source_len}")
        self.n = int(data_source_len)
        self.shuffle = shuffle
        self.seed = check_seed(seed, "EpochSampler")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        offset = self.epoch * self.n
        if not self.shuffle:
            return iter(range(offset, offset + self.n))
        generator = torch.Generator()
        generator.manual_seed(int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0]))
        return (offset + j for j in torch.randperm(self.n, generator=generator).tolist())

    def __len__(self) -> int:
        return self.n
