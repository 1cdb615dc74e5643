"""Optimisers and learning-rate schedules built from config dicts (shared by the tasks and test-time adaptation)."""
from __future__ import annotations

import math
from typing import Any, Iterable

import torch
from torch import nn

from visadapt.registry import ConfigError, check_kwargs


def param_groups(named_params: Iterable[tuple[str, nn.Parameter]], weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters, with no weight decay on 1-D tensors (biases, norms, scales), as timm does."""
    decay, no_decay = [], []
    for _, p in named_params:
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [g for g in ({"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0})
            if g["params"]]


def optimizer_class(name: Any) -> type[torch.optim.Optimizer]:
    cls = getattr(torch.optim, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        valid = sorted(n for n in dir(torch.optim) if isinstance(getattr(torch.optim, n), type)
                       and issubclass(getattr(torch.optim, n), torch.optim.Optimizer) and n != "Optimizer")
        raise ConfigError(f"optimizer.type '{name}' is not a torch.optim optimizer; valid: {', '.join(valid)}")
    return cls


def build_optimizer(params: Iterable, cfg: dict[str, Any] | None) -> torch.optim.Optimizer:
    """``dict(type='AdamW', lr=..., ...)``: any ``torch.optim`` class by name, over ``params`` (tensors or
    param-group dicts with their own ``lr``/``weight_decay``)."""
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ConfigError(f"optimizer: expected a dict with a 'type' key, got {cfg!r}")
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    cls = optimizer_class(cfg["type"])
    check_kwargs(cls, {"params": None, **kwargs}, where=f"optimizer '{cfg['type']}'")
    params = list(params)
    if not params:
        raise ConfigError("optimizer: nothing to optimise (no trainable parameters; check the adapter config)")
    try:
        return cls(params, **kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"optimizer '{cfg['type']}': {err}") from err


def build_model_optimizer(model: nn.Module, cfg: dict[str, Any]) -> torch.optim.Optimizer:
    """:func:`build_optimizer` over ``model``'s trainable parameters, ``weight_decay`` only on >= 2-D tensors."""
    cfg = dict(cfg)
    groups = param_groups(model.named_parameters(), cfg.pop("weight_decay", 0.0))
    return build_optimizer(groups, cfg)


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, min_lr_ratio: float) -> float:
    """Multiplier of the base lr: linear warm-up from 0, then cosine down to ``min_lr_ratio``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: dict[str, Any] | None, total_steps: int, steps_per_epoch: int
) -> dict[str, Any] | None:
    """``dict(type='cosine', warmup_epochs=1, min_lr_ratio=0.0)`` (or an absolute ``min_lr``, as torch's
    ``eta_min``, for one-group optimizers' base lr) or ``dict(type='constant')``; stepped per batch."""
    if cfg is None:
        return None
    cfg = dict(cfg)
    kind = cfg.pop("type", "cosine")
    if kind == "constant":
        check_kwargs(lambda: None, cfg, where="scheduler 'constant'")
        return None
    if kind != "cosine":
        raise ConfigError(f"scheduler.type '{kind}' unknown; valid: cosine, constant")

    def cosine(warmup_epochs: float = 0.0, warmup_steps: int | None = None, min_lr_ratio: float = 0.0,
               min_lr: float | None = None) -> int:
        return warmup_steps if warmup_steps is not None else int(round(warmup_epochs * steps_per_epoch))

    check_kwargs(cosine, cfg, where="scheduler 'cosine'")
    warmup = cosine(**cfg)
    if "min_lr" in cfg and "min_lr_ratio" in cfg:
        raise ConfigError("scheduler 'cosine': give min_lr or min_lr_ratio, not both")
    min_ratio = cfg["min_lr"] / optimizer.defaults["lr"] if "min_lr" in cfg else cfg.get("min_lr_ratio", 0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, total_steps, warmup, min_ratio)
    )
    return {"scheduler": schedule, "interval": "step"}
