"""``FewShotDataset``: K images per class drawn from another dataset, reproducibly, with the draw saved to a file.

The few-shot protocol of CoOp / Dassl (clip.md 3.2): per class, K distinct items drawn at random (all of them when
a class has fewer than K), one draw per seed. The chosen indices are written as JSON so that a run can be repeated
exactly, or a published split file can be read instead of drawing.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import atomic
from ..registry import DATASETS, ConfigError
from .base import ImageDataset


def draw_few_shot(labels: list[int], shots: int, seed: int) -> list[int]:
    """Indices of ``shots`` items per class (sorted by class, then index), drawn without replacement."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(i)
    chosen = []
    for label in sorted(by_class):
        items = by_class[label]
        picked = items if len(items) <= shots else rng.choice(items, size=shots, replace=False).tolist()
        chosen += sorted(int(i) for i in picked)
    return chosen


@DATASETS.register()
class FewShotDataset(ImageDataset):
    """``shots`` items per class of ``dataset`` (a dataset config dict or a built dataset).

    Args:
        dataset: the full training set; built without a transform (this dataset applies ``transform``).
        shots: K, items per class.
        seed: the draw and the augmentation stream; in a run config the run's ``seed`` (CoOp reports 1, 2, 3).
        split_file: read the indices from this JSON file instead of drawing (written by ``save_to`` or by hand:
            ``{"indices": [...]}``); it must hold ``shots`` items per class.
        save_to: write the drawn indices (with shots, seed and the source dataset) to this JSON file.
        transform: augmentation of the few-shot images (seeded per epoch and item, as every visadapt dataset).
    """

    def __init__(self, dataset: dict | ImageDataset, shots: int, seed: int = 1, split_file: str | None = None,
                 save_to: str | None = None, transform: list[dict] | None = None):
        super().__init__(transform=transform, seed=seed)
        if not isinstance(shots, int) or shots < 1:
            raise ConfigError(f"FewShotDataset: 'shots' must be a positive int, got {shots!r}")
        self.base = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.shots, self.draw_seed = shots, int(seed)
        labels = [self.base.label(i) for i in range(self.base.num_items)]
        if split_file is not None:
            self.indices = self._read(Path(split_file), labels)
        else:
            self.indices = draw_few_shot(labels, shots, self.draw_seed)
        self.num_classes, self.class_names = self.base.num_classes, self.base.class_names
        if hasattr(self.base, "templates"):
            self.templates = self.base.templates
        if save_to is not None:
            self.save(save_to, source=dataset if isinstance(dataset, dict) else type(dataset).__name__)

    def _read(self, path: Path, labels: list[int]) -> list[int]:
        if not path.is_file():
            raise FileNotFoundError(f"FewShotDataset: split file '{path}' not found")
        try:
            indices = json.loads(path.read_text())["indices"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ConfigError(f"FewShotDataset: '{path}' must be JSON with an 'indices' list ({err})") from err
        bad = [i for i in indices if not isinstance(i, int) or not 0 <= i < len(labels)]
        if bad:
            raise ConfigError(f"FewShotDataset: '{path}' has indices outside 0..{len(labels) - 1}: {bad[:5]}")
        counts = np.bincount([labels[i] for i in indices], minlength=self.base.num_classes)
        if counts.max() > self.shots:
            raise ConfigError(f"FewShotDataset: '{path}' has {int(counts.max())} items of a class, more than "
                              f"shots={self.shots}")
        return list(indices)

    def save(self, path: str | Path, source: Any = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps({"shots": self.shots, "seed": self.draw_seed, "source": source,
                                            "indices": self.indices}, indent=1))
        return path

    @property
    def num_items(self) -> int:
        return len(self.indices)

    def load(self, idx: int) -> tuple[np.ndarray, int]:
        return self.base.load(self.indices[idx])

    def label(self, idx: int) -> int:
        return self.base.label(self.indices[idx])
