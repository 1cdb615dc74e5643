"""Loading OpenMMLab-style Python configs (``_base_`` inheritance, ``--cfg-options``) and checking their keys.

Below both the training runner and test-time adaptation: each tool passes its own schema of top-level keys.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from mmengine.config import Config

from visadapt.registry import ConfigError

# Top-level keys a training config may have; helper variables must start with an underscore.
TOP_LEVEL_KEYS = {
    "backbone": "the backbone to build, dict(type=..., name=..., pretrained=...)",
    "adapter": "the adaptation method(s), dict(type=...) or a list of them",
    "task": "the LightningModule, dict(type='ClassificationTask', ...)",
    "data": "datasets, transforms and loader settings",
    "optimizer": "dict(type=<torch.optim class>, lr=..., ...)",
    "scheduler": "dict(type='cosine', warmup_epochs=..., min_lr_ratio=...) or None",
    "trainer": "keyword arguments passed straight to lightning.Trainer",
    "few_shot_schedule": "training length as a function of the shots: dict(max_steps_per_shot=...) or "
                         "dict(max_epochs={shots: epochs})",
    "checkpoint": "dict(monitor=..., mode=...) for the best-checkpoint callback, every_n_train_steps=N to save "
                  "last.ckpt every N steps instead of every epoch",
    "seed": "global seed (int)",
}


def load_config(
    path: str | Path,
    cfg_options: dict[str, Any] | None = None,
    keys: dict[str, str] = TOP_LEVEL_KEYS,
    required: tuple[str, ...] = ("backbone", "data"),
) -> Config:
    """``Config.fromfile`` + ``--cfg-options``, then the top-level keys checked against ``keys`` (each tool has
    its own schema: training configs by default)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as err:  # noqa: BLE001 - mmengine raises many kinds; name the file
        raise ConfigError(f"{path}: cannot be loaded as a config ({type(err).__name__}: {err})") from err
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_top_level(cfg, str(path), keys, required)
    return cfg


def check_top_level(
    cfg: Config, where: str, keys: dict[str, str] = TOP_LEVEL_KEYS, required: tuple[str, ...] = ("backbone", "data")
) -> None:
    for key in cfg.keys():
        if key.startswith("_") or key in keys:
            continue
        near = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        raise ConfigError(
            f"{where}: unknown top-level key '{key}'" + (f" (did you mean '{near[0]}'?)" if near else "")
            + f". Valid keys: {', '.join(keys)}; helper variables must start with '_'."
        )
    for key in required:
        if key not in cfg:
            raise ConfigError(f"{where}: missing required key '{key}' ({keys[key]})")


def to_plain(value: Any) -> Any:
    """mmengine ConfigDicts to plain dicts/lists, so built objects and saved metadata hold plain types."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_plain(v) for v in value)
    return value
