"""``SubjectFolderDataset``: a user's own photos of a subject for personalization: any size and mode, turned
upright by their EXIF orientation, centre-cropped to a square and resized to the model's resolution, each captioned
from a template with the trigger word (or by a ``<name>.txt`` beside the image)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..registry import DATASETS, ConfigError
from .base import ImageDataset
from .folder import IMAGE_EXTENSIONS


def read_photo(path: Path, size: int) -> np.ndarray:
    """``size`` x ``size`` x 3 uint8: EXIF-rotated, RGB, centre square crop, resized with Lanczos."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
            return np.asarray(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ConfigError(f"SubjectFolderDataset: cannot read image '{path}': {type(err).__name__}: {err}") from err


@DATASETS.register()
class SubjectFolderDataset(ImageDataset):
    """Every image under ``root`` (``.jpg .jpeg .png .bmp .webp``, recursively, sorted), decoded once up front so
    that a corrupt file is an error naming it before training starts.

    Args:
        trigger: the subject's trigger word; ``noun``: its class noun ("dog").
        template: caption of every image without a ``.txt`` beside it, with fields ``trigger`` and ``noun``.
        image_size: the model's resolution.
    """

    target_type = str
    num_classes = 0
    class_names: list[str] = []

    def __init__(self, root: str | Path, trigger: str, noun: str, template: str = "{trigger}, a photo of a {noun}",
                 image_size: int = 512, seed: int = 0, transform: list[dict] | None = None):
        super().__init__(transform=transform, seed=seed)
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"SubjectFolderDataset: '{self.root}' is not a folder")
        paths = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not paths:
            raise FileNotFoundError(f"SubjectFolderDataset: no images ({', '.join(IMAGE_EXTENSIONS)}) under "
                                    f"'{self.root}'")
        if "{trigger}" not in template:
            raise ConfigError(f"SubjectFolderDataset: template must contain {{trigger}}, got {template!r}")
        self.images = [read_photo(p, image_size) for p in paths]
        self.captions = [p.with_suffix(".txt").read_text().strip() if p.with_suffix(".txt").is_file()
                         else template.format(trigger=trigger, noun=noun) for p in paths]
        self.paths = paths

    @property
    def num_items(self) -> int:
        return len(self.images)

    def load(self, idx: int) -> tuple[np.ndarray, str]:
        return self.images[idx], self.captions[idx]
