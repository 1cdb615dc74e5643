"""``VideoClipDataset``: one captioned clip, repeated: the whole training set of one-shot video tuning.

Items are ``(float32 [F, 3, H, W] frames in [0, 1], caption)``. Like ``ImageDataset`` it takes the ``seed`` and
``transform`` that ``ImageDataModule`` hands every dataset, and any index ``>= 0`` (``EpochSampler`` yields
``epoch * len + j``), so a clip dataset drops into the same data config as an image one.
"""
from __future__ import annotations

import abc
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from ..registry import ConfigError
from .base import check_seed


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 ``[F, H, W, 3]`` -> a new float32 ``[F, 3, H, W]`` tensor in [0, 1]."""
    return torch.from_numpy(frames.astype(np.float32) / np.float32(255.0)).permute(0, 3, 1, 2).contiguous()



def tensor_to_frames(frames: torch.Tensor) -> np.ndarray:
    """float ``[F, 3, H, W]`` in [0, 1] (clamped) -> uint8 ``[F, H, W, 3]``: what the writers in ``video_io`` take."""
    return (frames.detach().cpu().permute(0, 2, 3, 1).clamp(0, 1) * 255).round().byte().numpy()

class VideoClipDataset(Dataset, abc.ABC):
    """Subclasses set ``caption`` and implement ``frames()``; ``repeats`` is the dataset's length (one-shot
    tuning sees the same clip ``repeats`` times per epoch)."""

    target_type = str
    num_classes = 0
    class_names: list[str] = []
    caption: str

    def __init__(self, repeats: int = 1, seed: int = 0, transform: list[dict] | None = None):
        where = type(self).__name__
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise ConfigError(f"{where}: 'repeats' must be a positive int, got {repeats!r}")
        if transform is not None:
            # Image augmentations would draw a different crop or flip per frame and tear the clip apart.
            raise ConfigError(f"{where}: 'transform' must be None for a clip (image transforms would treat every "
                              f"frame differently), got {transform!r}; image_size sets the crop and size")
        self.repeats = repeats
        self.seed = check_seed(seed, where)

    @abc.abstractmethod
    def frames(self) -> np.ndarray:
        """The clip as uint8 ``[F, H, W, 3]``."""

    @property
    def num_items(self) -> int:
        return self.repeats

    def load(self, idx: int) -> tuple[np.ndarray, str]:
        return self.frames(), self.caption

    def __len__(self) -> int:
        return self.repeats

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        if i < 0:
            raise IndexError(f"{type(self).__name__}: negative index {i}; indices are epoch * len + idx >= 0")
        return frames_to_tensor(self.frames()), self.caption

    def __iter__(self) -> Iterator[tuple[torch.Tensor, str]]:
        # Every index >= 0 is valid (a later epoch), so the sequence protocol alone would never stop.
        return (self[i] for i in range(len(self)))
