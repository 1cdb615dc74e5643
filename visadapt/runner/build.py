"""From a loaded config to built parts: data module, backbone, task."""
from __future__ import annotations

import inspect
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


def build_task(cfg: Config, num_classes: int, class_names: list[str] | None = None,
               shots: int | None = None) -> L.LightningModule:
    """The config's task over a freshly built backbone. ``class_names`` (CLIP prompts) and ``shots`` (few-shot
    recipes) come from the training set and are passed to tasks whose constructor takes them."""
    task = to_plain(cfg.get("task", {"type": "ClassificationTask"}))
    parts = dict(
        backbone=build_backbone(cfg, num_classes),
        num_classes=num_classes,
        adapter=to_plain(cfg.get("adapter")),
        optimizer=to_plain(cfg.get("optimizer")),
        scheduler=to_plain(cfg.get("scheduler")),
    )
    accepted = inspect.signature(TASKS.get(task.get("type", ""))).parameters if task.get("type") in TASKS else {}
    for name, value in (("class_names", class_names), ("shots", shots)):
        if name in accepted and name not in task:
            parts[name] = value
    return TASKS.build(task, **parts)


def trainer_kwargs(cfg: Config, shots: int | None = None) -> dict[str, Any]:
    """``cfg.trainer``, plus the training length of a few-shot recipe when ``cfg.few_shot_schedule`` gives it as a
    function of K: ``dict(max_steps_per_shot=500)`` (CLIP-LoRA: 500 x K iterations) or
    ``dict(max_epochs={1: 50, 2: 100, 4: 100, 8: 200, 16: 200})`` (CoOp)."""
    kwargs = to_plain(cfg.get("trainer", {}))
    schedule = to_plain(cfg.get("few_shot_schedule"))
    if schedule:
        if shots is None:
            raise ConfigError("few_shot_schedule needs a few-shot training set (data.train of type FewShotDataset)")
        if set(schedule) - {"max_steps_per_shot", "max_epochs"} or len(schedule) != 1:
            raise ConfigError(f"few_shot_schedule: give exactly one of max_steps_per_shot, max_epochs; got {schedule}")
        if "max_steps_per_shot" in schedule:
            kwargs.update(max_steps=int(schedule["max_steps_per_shot"]) * shots, max_epochs=-1)
        else:
            epochs = {int(k): int(v) for k, v in schedule["max_epochs"].items()}
            if shots not in epochs:
                raise ConfigError(f"few_shot_schedule.max_epochs has no entry for {shots} shots: {epochs}")
            kwargs["max_epochs"] = epochs[shots]
    check_kwargs(L.Trainer, kwargs, where="trainer")
    return kwargs
