"""Datasets over images on disk: torchvision-style class folders, the VTAB-1k list files of NOAH/SSF/MoSA and the
FGVC json splits of VPT.

Images are decoded with PIL and converted to RGB (grey and palette images get 3 channels); resizing is left
to the transforms. Errors name the offending path (and line) so a broken download is quick to find.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from ..registry import DATASETS, ConfigError
from .base import ImageDataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VTAB_SPLITS = ("train800", "val200", "train800val200", "test")
FGVC_SPLITS = ("train", "val", "trainval", "test")


class UnreadableImageError(OSError):
    """An image or mask file that cannot be decoded (truncated, empty, not an image); the message names it."""


def read_rgb(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 RGB pixels of ``path``; any decoding failure becomes an UnreadableImageError naming the file."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise UnreadableImageError(f"cannot read image '{path}': {type(err).__name__}: {err}") from None


class FileListDataset(ImageDataset):
    """Images listed as ``self.samples`` = [(path, label), ...], read from disk on demand."""

    samples: list[tuple[Path, int]]

    @property
    def num_items(self) -> int:
        return len(self.samples)

    def load(self, idx: int) -> tuple[np.ndarray, int]:
        path, label = self.samples[idx]
        return read_rgb(path), label

    def label(self, idx: int) -> int:
        return self.samples[idx][1]


@DATASETS.register()
class ImageFolderDataset(FileListDataset):
    """``root/<class_name>/*.{jpg,jpeg,png,bmp,webp}``; classes are the sorted sub-folder names."""

    def __init__(self, root: str | Path, transform: list[dict] | None = None, seed: int = 0):
        super().__init__(transform=transform, seed=seed)
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"ImageFolderDataset: root '{self.root}' is not a directory")
        self.class_names = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        self.num_classes = len(self.class_names)
        self.samples: list[tuple[Path, int]] = []
        empty = []
        for label, name in enumerate(self.class_names):
            files = sorted(p for p in (self.root / name).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not files:
                empty.append(name)
            self.samples.extend((p, label) for p in files)
        if not self.class_names or empty:
            where = f"class folder(s) {', '.join(empty)}" if empty else "no class sub-folders"
            raise FileNotFoundError(
                f"ImageFolderDataset: expected root/<class_name>/*{{{','.join(IMAGE_EXTENSIONS)}}} under "
                f"'{self.root}', found no images: {where}"
            )



def _parse_list(path: Path) -> list[tuple[str, int]]:
    """``relative/path.jpg <label>`` per line (the path may contain spaces); blank lines are skipped."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().rsplit(maxsplit=1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit() or int(parts[1]) < 0:
            raise ConfigError(f"{path}:{number}: expected '<relative/image/path> <non-negative int label>', "
                              f"got {line!r}")
        entries.append((parts[0], int(parts[1])))
    return entries


@DATASETS.register()
class VTABListDataset(FileListDataset):
    """VTAB-1k as distributed by NOAH/SSF/MoSA: ``root/{train800,val200,train800val200,test}.txt``.

    ``num_classes`` defaults to the largest label in any of the list files present plus one (a small split
    can miss the last class); ``class_names`` default to the label numbers.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train800",
        num_classes: int | None = None,
        class_names: list[str] | None = None,
        transform: list[dict] | None = None,
        seed: int = 0,
    ):
        super().__init__(transform=transform, seed=seed)
        if split not in VTAB_SPLITS:
            raise ConfigError(f"VTABListDataset: unknown split '{split}'; valid splits: {', '.join(VTAB_SPLITS)}")
        self.root, self.split = Path(root), split
        list_file = self.root / f"{split}.txt"
        if not list_file.is_file():
            expected = ", ".join(f"{s}.txt" for s in VTAB_SPLITS)
            raise FileNotFoundError(f"VTABListDataset: list file '{list_file}' not found; expected {expected} "
                                    f"in '{self.root}'")
        self.samples = [(self.root / rel, label) for rel, label in _parse_list(list_file)]
        if not self.samples:
            raise ConfigError(f"VTABListDataset: list file '{list_file}' has no entries")
        missing = [str(p) for p, _ in self.samples if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"VTABListDataset: {len(missing)} image(s) listed in '{list_file}' do not "
                                    f"exist, e.g. {', '.join(missing[:3])}")
        self.num_classes, self.class_names = self._classes(num_classes, class_names, list_file)

    def _classes(
        self, num_classes: int | None, class_names: list[str] | None, list_file: Path
    ) -> tuple[int, list[str]]:
        if num_classes is None:
            num_classes = len(class_names) if class_names is not None else self._inferred_num_classes()
        if class_names is None:
            class_names = [str(i) for i in range(num_classes)]
        if len(class_names) != num_classes:
            raise ConfigError(f"VTABListDataset: {len(class_names)} 'class_names' given but num_classes={num_classes}")
        top = max(label for _, label in self.samples)
        if top >= num_classes:
            raise ConfigError(f"VTABListDataset: '{list_file}' has label {top} but num_classes={num_classes}")
        return num_classes, list(class_names)

    def _inferred_num_classes(self) -> int:
        files = [self.root / f"{s}.txt" for s in VTAB_SPLITS if (self.root / f"{s}.txt").is_file()]
        return 1 + max(label for f in files for _, label in _parse_list(f))



@DATASETS.register()
class FGVCJsonDataset(FileListDataset):
    """An FGVC task (CUB, NABirds, Oxford Flowers, Stanford Dogs / Cars) in VPT's split format.

    ``root/{train,val,test}.json`` each map an image path (relative to ``root/image_dir``) to a class id; ``trainval``
    is train + val (the final-training split, as VTAB-1k's train800val200). Class ids (often 1-based, sometimes
    sparse) map to 0..C-1 in sorted order over every json file present, so all splits share one labelling.
    ``image_dir`` is the folder the paths are relative to: VPT uses ``images`` for CUB and NABirds, ``Images`` for
    Stanford Dogs and the root itself (``""``) for Flowers and Cars.
    """

    def __init__(self, root: str | Path, split: str = "train", image_dir: str = "", transform: list[dict] | None = None,
                 seed: int = 0):
        super().__init__(transform=transform, seed=seed)
        if split not in FGVC_SPLITS:
            raise ConfigError(f"FGVCJsonDataset: unknown split '{split}'; valid splits: {', '.join(FGVC_SPLITS)}")
        self.root, self.split = Path(root), split
        parts = ("train", "val") if split == "trainval" else (split,)
        annotations = {part: self._read(self.root / f"{part}.json") for part in parts}
        everything = [self._read(self.root / f"{s}.json") for s in ("train", "val", "test")
                      if (self.root / f"{s}.json").is_file()]
        class_ids = sorted({cid for a in everything for cid in a.values()})
        to_label = {cid: i for i, cid in enumerate(class_ids)}
        images = self.root / image_dir
        self.samples = [(images / rel, to_label[cid]) for a in annotations.values() for rel, cid in a.items()]
        missing = [str(path) for path, _ in self.samples if not path.is_file()]
        if missing:
            raise FileNotFoundError(f"FGVCJsonDataset: {len(missing)} image(s) of split '{split}' not found under "
                                    f"'{images}' (image_dir={image_dir!r}), e.g. {', '.join(missing[:3])}")
        self.num_classes = len(class_ids)
        self.class_names = [str(cid) for cid in class_ids]

    @staticmethod
    def _read(path: Path) -> dict[str, int]:
        if not path.is_file():
            raise FileNotFoundError(f"FGVCJsonDataset: split file '{path}' not found; expected "
                                    f"{{train,val,test}}.json in '{path.parent}'")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ConfigError(f"FGVCJsonDataset: '{path}' is not valid json: {err}") from err
        if not isinstance(data, dict) or not data or not all(isinstance(v, int) for v in data.values()):
            raise ConfigError(f"FGVCJsonDataset: '{path}' must be a non-empty json object "
                              '{"relative/image/path.jpg": class_id (int), ...}')
        return data
