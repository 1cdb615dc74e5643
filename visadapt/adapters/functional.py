"""The adapter API shared by every method and backbone.

``inject`` works in place and returns the same model. The configs injected into a model are kept on it in
one attribute (``visadapt_adapters``), so that marking, saving and merging need no other state.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from visadapt.adapters.base import AdapterConfig, AdapterLayer
from visadapt.adapters.targeting import get_parent
from visadapt.registry import ConfigError

ADAPTER_WEIGHTS = "adapter.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
_ATTR = "visadapt_adapters"


class AdapterLoadError(ValueError):
    """Saved adapter tensors do not fit the model (missing, unexpected or mis-shaped keys)."""


def injected_configs(model: nn.Module) -> list[AdapterConfig]:
    return list(getattr(model, _ATTR, []))


def set_injected_configs(model: nn.Module, configs: list[AdapterConfig]) -> None:
    """Record the configs a model carries (a plain list, not a sub-module, so no nn.Module attribute magic)."""
    object.__setattr__(model, _ATTR, list(configs))


def inject(model: nn.Module, cfg: dict | AdapterConfig | Iterable[dict | AdapterConfig]) -> nn.Module:
    """Inject one or several adapter configs into ``model`` (in place) and mark what trains."""
    cfgs = [cfg] if isinstance(cfg, (dict, AdapterConfig)) else list(cfg)
    configs = injected_configs(model)
    for c in cfgs:
        config = AdapterConfig.from_dict(c)
        config.inject(model)
        configs.append(config)
    set_injected_configs(model, configs)
    mark_trainable(model)
    return model


def adapter_parameter_names(model: nn.Module) -> list[str]:
    names: list[str] = []
    for config in injected_configs(model):
        names += [n for n in config.owned_parameters(model) if n not in names]
    return names


def mark_trainable(model: nn.Module) -> nn.Module:
    """Freeze everything, then unfreeze what the injected methods own (decided structurally, in one place)."""
    owned = set(adapter_parameter_names(model))
    for name, param in model.named_parameters():
        param.requires_grad_(name in owned)
    return model


def adapter_buffer_names(model: nn.Module) -> list[str]:
    names: list[str] = []
    for config in injected_configs(model):
        names += [n for n in config.owned_buffers(model) if n not in names]
    return names


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors the injected methods own (their parameters, and the buffers a method that owns the whole model
    carries), keyed by their names in ``model``."""
    params, buffers = dict(model.named_parameters()), dict(model.named_buffers())
    return {**{name: params[name] for name in adapter_parameter_names(model)},
            **{name: buffers[name] for name in adapter_buffer_names(model)}}


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Trainable (adapter-owned) and total parameter counts; the base weights a merge folds into are counted once."""
    params = dict(model.named_parameters())
    total = sum(p.numel() for p in params.values())
    return {"trainable": sum(params[n].numel() for n in adapter_parameter_names(model)), "total": total}


def save_adapter(model: nn.Module, directory: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``adapter.safetensors`` (adapter tensors only) and ``adapter_config.json``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in adapter_state_dict(model).items()}
    from visadapt import __version__

    config = {
        "visadapt_version": __version__,
        "adapters": [c.to_dict() for c in injected_configs(model)],
        **(metadata or {}),
    }
    tmp = directory / (ADAPTER_WEIGHTS + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(directory / ADAPTER_WEIGHTS)
    (directory / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2, default=str))
    return directory


def read_adapter_config(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / ADAPTER_CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"no adapter config at {path} (expected {ADAPTER_CONFIG} + {ADAPTER_WEIGHTS})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err})") from err


def load_adapter(model: nn.Module, directory: str | Path) -> nn.Module:
    """Inject the saved adapters (unless already injected) and load their tensors, checking every key."""
    directory = Path(directory)
    config = read_adapter_config(directory)
    if not injected_configs(model):
        inject(model, config["adapters"])
    weights = directory / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"no adapter weights at {weights}")
    load_adapter_state_dict(model, load_file(str(weights)), source=str(weights))
    return model


def load_adapter_state_dict(model: nn.Module, tensors: dict[str, torch.Tensor], source: str = "state dict") -> None:
    own = adapter_state_dict(model)
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    shapes = [f"{k}: saved {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in tensors and tensors[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {', '.join(missing[:10])}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:10])}")
        if shapes:
            parts.append(f"shape mismatches ({len(shapes)}): {'; '.join(shapes[:5])}")
        raise AdapterLoadError(f"{source} does not fit this model (saved for another backbone?): " + "; ".join(parts))
    with torch.no_grad():
        for key, value in tensors.items():
            own[key].copy_(value)


def merge(model: nn.Module, strict: bool = True) -> nn.Module:
    """Fold mergeable adapters into the base weights and unwrap them, leaving the upstream module tree.

    With ``strict`` an adapter that cannot merge (bottleneck adapters, VPT) is an error; otherwise it stays.
    """
    unmergeable = sorted({m.config.method for m in model.modules() if isinstance(m, AdapterLayer) and not m.mergeable})
    if unmergeable and strict:
        raise TypeError(f"adapters {unmergeable} cannot be folded into the base weights; they stay modules")
    # Methods whose layers are not visadapt AdapterLayers (the HF PEFT bridge) fold themselves in through a
    # ``merge_model(model)`` hook, which raises TypeError (changing nothing) when it cannot merge.
    kept = []
    for config in injected_configs(model):
        merge_model = getattr(config, "merge_model", None)
        if merge_model is None:
            continue
        try:
            merge_model(model)
        except TypeError:
            if strict:
                raise
            kept.append(config)
    for name, module in list(model.named_modules()):
        if isinstance(module, AdapterLayer) and module.mergeable:
            parent, attr = get_parent(model, name)
            setattr(parent, attr, module.merge())
    remaining = [c for c in injected_configs(model) if c.method in unmergeable or c in kept]
    set_injected_configs(model, remaining)
    if remaining:
        mark_trainable(model)
    else:
        model.requires_grad_(True)
    return model
