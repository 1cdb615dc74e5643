"""From a loaded config to built parts: data module, backbone, task."""
from __future__ import annotations

from typing import Any

import lightning as L
from mmengine.config import Config

import visadapt.adapters  # noqa: F401  (registers adapter methods)
import visadapt.backbones  # noqa: F401  (registers backbones)
import visadapt.data  # noqa: F401  (registers datasets)
import visadapt.tasks  # noqa: F401  (registers tasks)
from visadapt.data.datamodule import ImageDataModule
from visadapt.registry import BACKBONES, TASKS, ConfigError, check_kwargs


def to_plain(value: Any) -> Any:
    """mmengine ConfigDicts to plain dicts/lists, so built objects and saved metadata hold plain types."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_plain(v) for v in value)
    return value


def build_datamodule(cfg: Config) -> ImageDataModule:
    data = to_plain(cfg.data)
    data.setdefault("seed", cfg.get("seed", 0))
    check_kwargs(ImageDataModule, data, where="data")
    return ImageDataModule(**data)


def build_backbone(cfg: Config, num_classes: int) -> L.LightningModule:
    backbone = to_plain(cfg.backbone)
    if "num_classes" in backbone and backbone["num_classes"] != num_classes:
        raise ConfigError(f"backbone.num_classes={backbone['num_classes']} but the dataset has {num_classes} classes")
    return BACKBONES.build({**backbone, "num_classes": num_classes})


def build_task(cfg: Config, num_classes: int) -> L.LightningModule:
    task = to_plain(cfg.get("task", {"type": "ClassificationTask"}))
    parts = dict(
        backbone=build_backbone(cfg, num_classes),
        num_classes=num_classes,
        adapter=to_plain(cfg.get("adapter")),
        optimizer=to_plain(cfg.get("optimizer")),
        scheduler=to_plain(cfg.get("scheduler")),
    )
    return TASKS.build(task, **parts)


def trainer_kwargs(cfg: Config) -> dict[str, Any]:
    kwargs = to_plain(cfg.get("trainer", {}))
    check_kwargs(L.Trainer, kwargs, where="trainer")
    return kwargs
