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


def data_inputs(train_set: Any) -> dict[str, Any]:
    """What a task may take from its training set: ``class_names`` (CLIP prompts), ``shots`` (few-shot recipes)
    and ``templates`` (a dataset's own prompt templates, e.g. CoOp's per-dataset ones)."""
    values = {name: getattr(train_set, name, None) for name in ("class_names", "shots", "templates")}
    return {k: v for k, v in values.items() if v is not None}


def init_arguments(cls: type) -> set[str]:
    """Named constructor arguments of ``cls``, following ``**kwargs`` up to the base classes that take them."""
    names: set[str] = set()
    for klass in cls.__mro__:
        params = inspect.signature(klass.__init__).parameters.values() if "__init__" in vars(klass) else []
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if "__init__" in vars(klass) and not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names


def build_task(cfg: Config, num_classes: int, **from_data: Any) -> L.LightningModule:
    """The config's task over a freshly built backbone; ``from_data`` (see :func:`data_inputs`) goes to tasks whose
    constructor takes it, unless the task config sets it."""
    task = to_plain(cfg.get("task", {"type": "ClassificationTask"}))
    parts = dict(
        backbone=build_backbone(cfg, num_classes),
        num_classes=num_classes,
        adapter=to_plain(cfg.get("adapter")),
        optimizer=to_plain(cfg.get("optimizer")),
        scheduler=to_plain(cfg.get("scheduler")),
    )
    accepted = init_arguments(TASKS.get(task["type"])) if task.get("type") in TASKS else set()
    parts.update({k: v for k, v in from_data.items() if k in accepted and k not in task})
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
