"""Segmentation datasets: (image, mask) pairs whose masks follow the image through the same seeded augmentation.

Masks are class-index maps: int64 [H, W] with 0 = background, 1..K-1 the classes (1 = foreground for binary
tasks) and ``ignore_index`` (255) for pixels that count nowhere. ``MaskFolderDataset`` reads images and PNG masks
from folders (binary 0/255 or 0/1 masks, or class-index / palette PNGs).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..registry import DATASETS, ConfigError
from .base import ImageDataset, to_tensor
from .folder import IMAGE_EXTENSIONS, UnreadableImageError, read_rgb

IGNORE_INDEX = 255


class SegmentationDataset(ImageDataset):
    """Base of datasets whose ``load(idx)`` returns ``(HxWx3 uint8 image, HxW integer class-index mask)``.

    ``num_classes`` counts the background (2 for a binary task); ``__getitem__`` returns
    ``(float32 3xHxW image in [0, 1], int64 HxW mask)``. Geometric transforms move the mask with the image
    (albumentations resizes masks with nearest-neighbour interpolation).
    """

    def item(self, epoch: int, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.load(idx)
        out = self.augment(epoch, idx, image=image, mask=mask)
        return to_tensor(out["image"]), torch.from_numpy(np.ascontiguousarray(out["mask"])).long()

    def label(self, idx: int) -> int:
        raise TypeError(f"{type(self).__name__} has masks, not image labels (few-shot sampling needs labels)")


def read_mask(path: Path, num_classes: int, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """A PNG mask as uint8 class indices. Binary tasks (``num_classes == 2``) accept 0/1 masks (with
    ``ignore_index`` pixels) and 0/255 masks (foreground = 128 and above, so anti-aliased edges round to the nearer
    class); other tasks need class indices below ``num_classes`` (grey or palette PNGs), or ``ignore_index``."""
    try:
        with Image.open(path) as img:
            array = np.asarray(img if img.mode in ("L", "P", "1", "I", "I;16") else img.convert("L"))
    except (OSError, ValueError, SyntaxError) as err:
        raise UnreadableImageError(f"cannot read mask '{path}': {type(err).__name__}: {err}") from None
    array = array.astype(np.int64)
    if num_classes == 2 and not (np.isin(array, (0, 1, ignore_index)).all() and (array == 1).any()):
        return (array >= 128).astype(np.uint8)
    bad = np.unique(array[(array >= num_classes) & (array != ignore_index)])
    if bad.size:
        raise ConfigError(f"mask '{path}' holds values {bad[:8].tolist()}; expected class indices 0..{num_classes - 1}"
                          f" (or {ignore_index} = ignore) for num_classes={num_classes}")
    return array.astype(np.uint8)


@DATASETS.register()
class MaskFolderDataset(SegmentationDataset):
    """Images in ``images`` and masks of the same file stem in ``masks`` (``<stem><mask_suffix>``).

    Args:
        images, masks: folders (searched recursively; the path below the folder must match, minus the suffix).
        num_classes: classes including the background; 2 = binary (0/255 or 0/1 PNGs).
        class_names: default ``background, foreground`` (binary) or ``class_0..``.
        list_file: optional text file of stems (relative paths without suffix), one per line, selecting a split.
        mask_suffix: what replaces an image's suffix to name its mask (``.png``; e.g. ``_mask.png``).
    """

    def __init__(self, images: str | Path, masks: str | Path, num_classes: int = 2,
                 class_names: list[str] | None = None, list_file: str | Path | None = None,
                 mask_suffix: str = ".png", ignore_index: int = IGNORE_INDEX,
                 transform: list[dict] | None = None, seed: int = 0):
        super().__init__(transform=transform, seed=seed)
        if num_classes < 2:
            raise ConfigError(f"MaskFolderDataset: num_classes counts the background, so it must be >= 2, got {num_classes}")
        self.images, self.masks = Path(images), Path(masks)
        for what, folder in (("images", self.images), ("masks", self.masks)):
            if not folder.is_dir():
                raise FileNotFoundError(f"MaskFolderDataset: {what} folder '{folder}' is not a directory")
        self.num_classes, self.ignore_index = int(num_classes), int(ignore_index)
        default = ["background", "foreground"] if num_classes == 2 else [f"class_{c}" for c in range(num_classes)]
        self.class_names = list(class_names or default)
        if len(self.class_names) != self.num_classes:
            raise ConfigError(f"MaskFolderDataset: {len(self.class_names)} class_names for num_classes={num_classes}")
        found = {p.relative_to(self.images).with_suffix("").as_posix(): p for p in sorted(self.images.rglob("*"))
                 if p.suffix.lower() in IMAGE_EXTENSIONS}
        if list_file is not None:
            stems = [line.strip() for line in Path(list_file).read_text().splitlines() if line.strip()]
            absent = [s for s in stems if s not in found]
            if absent:
                raise FileNotFoundError(f"MaskFolderDataset: {len(absent)} stem(s) of '{list_file}' have no image in "
                                        f"'{self.images}', e.g. {absent[:3]}")
            found = {s: found[s] for s in stems}
        self.samples = [(path, self.masks / f"{stem}{mask_suffix}") for stem, path in found.items()]
        missing = [str(m) for _, m in self.samples if not m.is_file()]
        if missing or not self.samples:
            raise FileNotFoundError(
                f"MaskFolderDataset: expected a mask '<stem>{mask_suffix}' in '{self.masks}' for every image in "
                f"'{self.images}'; " + (f"{len(missing)} missing, e.g. {missing[:3]}" if missing else "found no images"))

    @property
    def num_items(self) -> int:
        return len(self.samples)

    def load(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        image_path, mask_path = self.samples[idx]
        image, mask = read_rgb(image_path), read_mask(mask_path, self.num_classes, self.ignore_index)
        if image.shape[:2] != mask.shape:
            raise ConfigError(f"mask '{mask_path}' is {mask.shape[1]}x{mask.shape[0]} but image '{image_path}' is "
                              f"{image.shape[1]}x{image.shape[0]}")
        return image, mask
