"""The 11 few-shot datasets of CoOp / CLIP-LoRA / ProLIP, read from disk in CoOp's layout (clip.md 3.1).

``ROOT/<folder>/`` holds the images and CoOp's ``split_zhou_<Name>.json`` (``{"train": [[rel_path, label,
class_name], ...], "val": [...], "test": [...]}``, paths relative to the image folder). FGVCAircraft uses the
official ``images_variant_<split>.txt`` lists, ImageNet ``images/{train,val}/<wnid>/`` with ``classnames.txt``
(its val set is the test set). Few-shot subsets: wrap ``split='train'`` in ``FewShotDataset``. The templates CoOp
uses for zero-shot CLIP are in ``COOP_TEMPLATES`` and on each dataset as ``templates``: a CLIP task whose config
sets no ``templates`` uses them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..registry import DATASETS, ConfigError
from .folder import IMAGE_EXTENSIONS, FileListDataset


@dataclass(frozen=True)
class CoOpLayout:
    folder: str
    image_dir: str
    split_file: str | None  # None: the dataset's own split lists (FGVCAircraft, ImageNet)
    template: str


COOP_DATASETS = {
    "ImageNet": CoOpLayout("imagenet", "images", None, "a photo of a {}."),
    "Caltech101": CoOpLayout("caltech-101", "101_ObjectCategories", "split_zhou_Caltech101.json", "a photo of a {}."),
    "OxfordPets": CoOpLayout("oxford_pets", "images", "split_zhou_OxfordPets.json", "a photo of a {}, a type of pet."),
    "StanfordCars": CoOpLayout("stanford_cars", "", "split_zhou_StanfordCars.json", "a photo of a {}."),
    "OxfordFlowers": CoOpLayout("oxford_flowers", "jpg", "split_zhou_OxfordFlowers.json",
                                "a photo of a {}, a type of flower."),
    "Food101": CoOpLayout("food-101", "images", "split_zhou_Food101.json", "a photo of {}, a type of food."),
    "FGVCAircraft": CoOpLayout("fgvc_aircraft", "images", None, "a photo of a {}, a type of aircraft."),
    "SUN397": CoOpLayout("sun397", "SUN397", "split_zhou_SUN397.json", "a photo of a {}."),
    "DescribableTextures": CoOpLayout("dtd", "images", "split_zhou_DescribableTextures.json", "{} texture."),
    "EuroSAT": CoOpLayout("eurosat", "2750", "split_zhou_EuroSAT.json", "a centered satellite photo of {}."),
    "UCF101": CoOpLayout("ucf101", "UCF-101-midframes", "split_zhou_UCF101.json", "a photo of a person doing {}."),
}
COOP_TEMPLATES = {name: [layout.template] for name, layout in COOP_DATASETS.items()}
COOP_SPLITS = ("train", "val", "test")


@DATASETS.register()
class CoOpDataset(FileListDataset):
    """One of ``COOP_DATASETS`` under ``root`` (the directory holding ``oxford_pets/``, ``dtd/``, ...).

    Args:
        name: the dataset (``OxfordPets``, ``EuroSAT``, ...).
        split: ``train``, ``val`` or ``test``.
        split_file: another split JSON in CoOp's format, instead of the dataset's ``split_zhou_*.json``.

    Class names are CoOp's (underscores become spaces), ordered by label.
    """

    def __init__(self, root: str | Path, name: str, split: str = "train", split_file: str | None = None,
                 transform: list[dict] | None = None, seed: int = 0):
        super().__init__(transform=transform, seed=seed)
        if name not in COOP_DATASETS:
            raise ConfigError(f"CoOpDataset: unknown dataset '{name}'; one of {', '.join(COOP_DATASETS)}")
        if split not in COOP_SPLITS:
            raise ConfigError(f"CoOpDataset: split must be one of {COOP_SPLITS}, got '{split}'")
        layout = COOP_DATASETS[name]
        self.name, self.split = name, split
        self.templates = COOP_TEMPLATES[name]  # CoOp's prompt for this dataset (tasks use it unless configured)
        self.directory = Path(root) / layout.folder
        if not self.directory.is_dir():
            raise FileNotFoundError(f"CoOpDataset: '{self.directory}' not found (expected {name} in CoOp's layout "
                                    f"under root '{root}', see CoOp's DATASETS.md)")
        self.image_dir = self.directory / layout.image_dir
        if split_file is not None or layout.split_file is not None:
            entries = self._read_split_json(Path(split_file) if split_file else self.directory / layout.split_file)
        elif name == "FGVCAircraft":
            entries = self._read_aircraft()
        else:
            entries = self._read_imagenet()
        names: dict[int, str] = {}
        for _, label, class_name in entries:
            if names.setdefault(label, class_name) != class_name:
                raise ConfigError(f"CoOpDataset {name}: label {label} is named both '{names[label]}' and "
                                  f"'{class_name}'")
        self.num_classes = max(names) + 1 if names else 0
        missing = sorted(set(range(self.num_classes)) - set(names))
        if missing:
            raise ConfigError(f"CoOpDataset {name} ({split}): no item of label(s) {missing[:5]}, so they have no name")
        self.class_names = [names[i].replace("_", " ") for i in range(self.num_classes)]
        self.samples = [(self.image_dir / path, label) for path, label, _ in entries]

    def _read_split_json(self, path: Path) -> list[tuple[str, int, str]]:
        if not path.is_file():
            raise FileNotFoundError(f"CoOpDataset {self.name}: split file '{path}' not found")
        try:
            entries = json.loads(path.read_text())[self.split]
            return [(str(p), int(label), str(c)) for p, label, c in entries]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"CoOpDataset: '{path}' is not a CoOp split file with a '{self.split}' list of "
                              f"[path, label, class_name] ({type(err).__name__}: {err})") from err

    def _read_aircraft(self) -> list[tuple[str, int, str]]:
        variants_file = self.directory / "variants.txt"
        list_file = self.directory / f"images_variant_{self.split}.txt"
        for path in (variants_file, list_file):
            if not path.is_file():
                raise FileNotFoundError(f"CoOpDataset FGVCAircraft: '{path}' not found")
        variants = [v.strip() for v in variants_file.read_text().splitlines() if v.strip()]
        index = {v: i for i, v in enumerate(variants)}
        entries = []
        for number, line in enumerate(list_file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            image_id, _, variant = line.strip().partition(" ")
            if variant not in index:
                raise ConfigError(f"{list_file}:{number}: variant '{variant}' is not in {variants_file}")
            entries.append((f"{image_id}.jpg", index[variant], variant))
        return entries

    def _read_imagenet(self) -> list[tuple[str, int, str]]:
        names_file = self.directory / "classnames.txt"
        if not names_file.is_file():
            raise FileNotFoundError(f"CoOpDataset ImageNet: '{names_file}' not found (lines '<wnid> <class name>')")
        wnids = [line.strip().partition(" ") for line in names_file.read_text().splitlines() if line.strip()]
        if self.split == "val":
            raise ConfigError("CoOpDataset ImageNet has no val split (CoOp tests on ImageNet's val set: split='test')")
        folder = self.image_dir / ("train" if self.split == "train" else "val")
        entries = []
        for label, (wnid, _, class_name) in enumerate(wnids):
            files = sorted(p for p in (folder / wnid).glob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not files:
                raise FileNotFoundError(f"CoOpDataset ImageNet: no images in '{folder / wnid}'")
            entries += [(str(p.relative_to(self.image_dir)), label, class_name) for p in files]
        return entries
