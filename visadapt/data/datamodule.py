"""A LightningDataModule over datasets built from config dicts."""
from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from visadapt.data.base import EpochSampler
from visadapt.data.folder import UnreadableImageError
from visadapt.data.verify import drop_items, unreadable_items
from visadapt.registry import DATASETS, ConfigError


class ImageDataModule(L.LightningDataModule):
    """Train/val/test datasets from ``dict(type=..., **kwargs)``, each given its split's transforms and the seed.

    ``verify=True`` decodes every image before training and lists all unreadable ones in one error;
    ``skip_corrupt=True`` leaves them out instead (and says how many).

    Loaders own their random state (``EpochSampler`` and a seeded ``torch.Generator``), so they never draw from
    the global RNG: a run resumed from a checkpoint sees the same batches as an uninterrupted one.
    """

    def __init__(
        self,
        train: dict,
        val: dict | None = None,
        test: dict | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        train_transforms: list[dict] | None = None,
        test_transforms: list[dict] | None = None,
        seed: int = 0,
        verify: bool = False,
        skip_corrupt: bool = False,
    ):
        super().__init__()
        # What built the training set (feature caches are keyed by it).
        self.train_config = {"dataset": train, "transforms": train_transforms, "seed": seed}
        self.train_set = _build(train, "data.train", train_transforms, seed)
        self.val_set = _build(val, "data.val", test_transforms, seed) if val else None
        self.test_set = _build(test, "data.test", test_transforms, seed) if test else None
        for name, ds in (("val", self.val_set), ("test", self.test_set)):
            if ds is not None and ds.num_classes != self.train_set.num_classes:
                raise ConfigError(
                    f"data.{name} has {ds.num_classes} classes but data.train has {self.train_set.num_classes}"
                )
        if verify or skip_corrupt:
            self.check_files(skip_corrupt)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.seed = seed

    def splits(self) -> dict[str, Any]:
        """The built datasets by split name."""
        sets = {"train": self.train_set, "val": self.val_set, "test": self.test_set}
        return {name: ds for name, ds in sets.items() if ds is not None}

    def check_files(self, skip: bool) -> None:
        """Decode every image up front (``verify``): unreadable files are one error listing them all, or with
        ``skip_corrupt`` are left out, with their count printed."""
        for name, dataset in self.splits().items():
            bad = unreadable_items(dataset, desc=f"data.{name}")
            if not bad:
                continue
            if not skip:
                raise UnreadableImageError(f"data.{name}: {len(bad)} unreadable file(s) (set data.skip_corrupt=True "
                                           f"to train without them): {'; '.join(bad.values())}")
            total = dataset.num_items
            drop_items(dataset, bad, where=f"data.{name}")
            print(f"data.{name}: skipped {len(bad)} unreadable file(s) of {total} (skip_corrupt): "
                  f"{'; '.join(bad.values())}")

    @property
    def num_classes(self) -> int:
        return self.train_set.num_classes

    @property
    def class_names(self) -> list[str]:
        return self.train_set.class_names

    def _loader(self, dataset: Any, batch_size: int, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=EpochSampler(len(dataset), shuffle=shuffle, seed=self.seed),
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val_set, self.eval_batch_size, shuffle=False) if self.val_set else []

    def test_dataloader(self) -> DataLoader:
        if self.test_set is None:
            raise ConfigError("data.test is not set; nothing to test on")
        return self._loader(self.test_set, self.eval_batch_size, shuffle=False)


def _build(cfg: dict, where: str, transforms: list[dict] | None, seed: int) -> Any:
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ConfigError(f"{where}: expected dict(type=<dataset>, ...); registered datasets: {DATASETS.list()}")
    extra = {"seed": seed, "transform": transforms}
    extra = {k: v for k, v in extra.items() if k not in cfg}
    try:
        return DATASETS.build(cfg, **extra)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from err
