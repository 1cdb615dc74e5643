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
from visadapt.backbones.build import build_backbone
from visadapt.config import to_plain
from visadapt.data.datamodule import ImageDataModule
from visadapt.registry import TASKS, ConfigError, check_kwargs


def build_datamodule(cfg: Config) -> ImageDataModule:
    data = to_plain(cfg.data)
    data.setdefault("seed", cfg.get("seed", 0))
    check_kwargs(ImageDataModule, data, where="data")
    return ImageDataModule(**data)


def data_facts(datamodule: ImageDataModule) -> dict[str, Any]:
    """What a task may take from its training set (see ``AdaptedTask.data_inputs``): ``num_classes``,
    ``class_names`` (CLIP prompts), ``shots`` (few-shot recipes) and ``templates`` (a dataset's own prompt
    templates, e.g. CoOp's per-dataset ones)."""
    train_set = datamodule.train_set
    values = {"num_classes": datamodule.num_classes,
              **{name: getattr(train_set, name, None) for name in ("class_names", "shots", "templates")}}
    return {k: v for k, v in values.items() if v is not None}


def build_task(cfg: Config, data: dict[str, Any]) -> L.LightningModule:
    """The config's task over a freshly built backbone. The task class declares what it takes from the data
    (``data_inputs``, unless the task config sets it) and what its backbone needs (``backbone_inputs``)."""
    task = to_plain(cfg.get("task", {"type": "ClassificationTask"}))
    if not isinstance(task, dict) or "type" not in task:
        raise ConfigError(f"task: expected a dict with a 'type' key (one of {TASKS.list()}), got {task!r}")
    task_cls = TASKS.get(task["type"])
    params = inspect.signature(task_cls).parameters
    required = [k for k in task_cls.data_inputs if k in params and params[k].default is inspect.Parameter.empty]
    missing = [k for k in required if k not in data and k not in task]
    if missing:
        raise ConfigError(f"task '{task['type']}' needs {', '.join(missing)} from the training set, which does not "
                          "say; set it in the task config")
    parts = dict(
        backbone=build_backbone(to_plain(cfg.backbone), **task_cls.backbone_inputs(data)),
        adapter=to_plain(cfg.get("adapter")),
        optimizer=to_plain(cfg.get("optimizer")),
        scheduler=to_plain(cfg.get("scheduler")),
    )
    parts.update({k: data[k] for k in task_cls.data_inputs if k in data and k not in task})
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
