"""``VideoFileDataset``: a user's own clip (a folder of frames, a GIF or a video file) and its caption, for
one-shot video tuning. The file is read, sampled and resized once, when the dataset is built, so a missing or
broken file is an error naming it before training starts."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..registry import DATASETS, ConfigError
from .video_base import VideoClipDataset
from .video_io import read_video, resize_frames, sample_frames


@DATASETS.register()
class VideoFileDataset(VideoClipDataset):
    """Frames ``start, start + stride, ...`` (``num_frames`` of them) of the clip at ``path``, centre-cropped to
    a square and resized to ``image_size``, captioned ``caption``; ``repeats`` is the dataset's length."""

    def __init__(self, path: str | Path, caption: str, num_frames: int = 8, stride: int = 1, start: int = 0,
                 image_size: int = 32, repeats: int = 1, seed: int = 0, transform: list[dict] | None = None):
        super().__init__(repeats=repeats, seed=seed, transform=transform)
        if not isinstance(caption, str) or not caption.strip():
            raise ConfigError(f"VideoFileDataset: 'caption' must be a non-empty string, got {caption!r}")
        self.path = Path(path)
        self.caption = caption
        video = read_video(self.path)
        try:
            self._frames = resize_frames(sample_frames(video, num_frames, stride, start), image_size)
        except ConfigError as err:
            raise ConfigError(f"VideoFileDataset '{self.path}': {err}") from None

    def frames(self) -> np.ndarray:
        """uint8 ``[num_frames, image_size, image_size, 3]``; a copy, so callers may change it."""
        return self._frames.copy()
