"""The adapter API shared by every method and backbone.

``inject`` works in place and returns the same model. The configs injected into a model are kept on it in
one attribute (``visadapt_adapters``), and the per-call context its layers share in another
(``visadapt_call_context``), so that marking, saving, merging and switching off need no other state.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterable, Iterator

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from visadapt.adapters.base import AdapterConfig, CallContext
from visadapt.registry import ConfigError

ADAPTER_WEIGHTS = "adapter.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
_ATTR = "visadapt_adapters"
_CONTEXT_ATTR = "visadapt_call_context"


class AdapterLoadError(ValueError):
    """Saved adapter tensors do not fit the model (missing, unexpected or mis-shaped keys)."""


def injected_configs(model: nn.Module) -> list[AdapterConfig]:
    return list(getattr(model, _ATTR, []))


def set_injected_configs(model: nn.Module, configs: list[AdapterConfig]) -> None:
    """Record the configs a model carries (a plain list, not a sub-module, so no nn.Module attribute magic)."""
    object.__setattr__(model, _ATTR, list(configs))


def inject(model: nn.Module, cfg: dict | AdapterConfig | Iterable[dict | AdapterConfig]) -> nn.Module:
    """Inject one or several adapter configs into ``model`` (in place, in order: a later method stacked on an
    earlier one wraps it) and mark what trains."""
    cfgs = [cfg] if isinstance(cfg, (dict, AdapterConfig)) else list(cfg)
    configs = injected_configs(model)
    context = model_call_context(model)
    for c in cfgs:
        config = AdapterConfig.from_dict(c)
        config.inject(model)
        for _, layer in config.layers(model):
            layer.call_context = context
        config.record_base_values(model)
        configs.append(config)
    set_injected_configs(model, configs)
    mark_trainable(model)
    return model


def model_call_context(model: nn.Module) -> CallContext:
    """The one :class:`CallContext` the adapter layers of ``model`` share."""
    if not isinstance(getattr(model, _CONTEXT_ATTR, None), CallContext):
        object.__setattr__(model, _CONTEXT_ATTR, CallContext())
    return getattr(model, _CONTEXT_ATTR)


@contextlib.contextmanager
def call_context(model: nn.Module, **values: Any) -> Iterator[CallContext]:
    """Values the adapter layers of ``model`` read during the calls inside the block (``num_frames=8``); the
    previous values come back after it. Activation checkpointing recomputes after the block: set such values
    with :func:`set_call_context` instead."""
    context = model_call_context(model)
    previous = dict(context)
    context.update(values)
    try:
        yield context
    finally:
        context.clear()
        context.update(previous)


def set_call_context(model: nn.Module, **values: Any) -> None:
    """Set per-call values that stay until changed (see :func:`call_context`)."""
    model_call_context(model).update(values)


def adapted_model(obj: nn.Module) -> nn.Module:
    """The model adapters live in: a task's or backbone's ``adapted_model``, else the module itself."""
    while isinstance(getattr(type(obj), "adapted_model", None), property):
        inner = obj.adapted_model
        if inner is obj:
            break
        obj = inner
    return obj


def module_prefix(root: nn.Module, module: nn.Module) -> str:
    """``"backbone.model."``: the dotted name of ``module`` inside ``root`` plus a dot ("" for root itself), the
    one key map between an adapted model's adapter tensors and the names a checkpoint of ``root`` gives them."""
    if module is root:
        return ""
    for name, candidate in root.named_modules():
        if candidate is module:
            return name + "."
    raise ValueError(f"{type(module).__name__} is not a sub-module of {type(root).__name__}")


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


def adapter_state_dict(model: nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    """The tensors the injected methods own (their parameters, and the buffers a method that owns the whole model
    carries), keyed by ``prefix`` + their names in ``model``."""
    params, buffers = dict(model.named_parameters()), dict(model.named_buffers())
    return {**{prefix + name: params[name] for name in adapter_parameter_names(model)},
            **{prefix + name: buffers[name] for name in adapter_buffer_names(model)}}


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


def load_adapter_state_dict(model: nn.Module, tensors: dict[str, torch.Tensor], source: str = "state dict",
                            prefix: str = "") -> None:
    """Copy ``tensors`` (keyed ``prefix`` + name in ``model``; other keys are not this model's) into the adapter
    tensors of ``model``, checking that every one is there with its shape."""
    if prefix:
        tensors = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
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


def merge(model: nn.Module, strict: bool = True, unload: bool = True) -> nn.Module:
    """Fold mergeable adapters into the base weights; with ``unload`` (default) also unwrap them, leaving the
    upstream module tree, else keep the wrappers so that :func:`unmerge` can take the updates out again.

    With ``strict`` a method that cannot merge (bottleneck adapters, VPT, MoSA) is an error, raised before anything
    changes; otherwise it stays as it is. Methods merge in injection order, so stacked layers fold innermost first.
    """
    configs = injected_configs(model)
    kept = [c for c in configs if not c.mergeable]
    if kept and strict:
        raise TypeError(f"adapters {sorted({c.method for c in kept})} cannot be folded into the base weights; "
                        "they stay modules")
    merged = []
    for config in configs:
        if config in kept:
            continue
        try:
            config.merge(model)
        except TypeError:
            if strict:
                raise
            kept.append(config)
            continue
        merged.append(config)
    if not unload:
        return model
    for config in reversed(merged):
        config.unload(model)
    remaining = [c for c in configs if c in kept]
    set_injected_configs(model, remaining)
    if remaining:
        mark_trainable(model)
    else:
        model.requires_grad_(True)
    return model


def unmerge(model: nn.Module) -> nn.Module:
    """Take the updates that ``merge(model, unload=False)`` folded into the base weights back out, outermost first."""
    for config in reversed(injected_configs(model)):
        if config.mergeable:
            config.unmerge(model)
    return model


def set_adapters_enabled(model: nn.Module, enabled: bool) -> None:
    """Switch every injected method on or off (off: the model computes exactly what it did before injection)."""
    configs = injected_configs(model)
    for config in (configs if enabled else reversed(configs)):
        config.set_enabled(model, enabled)


@contextlib.contextmanager
def disable_adapters(model: nn.Module) -> Iterator[nn.Module]:
    """Inside the block ``model`` gives exactly the base model's outputs (CAT's base prediction from the same
    UNet); the adapters' previous on/off states come back after it. Methods that train the model's own tensors
    in place swap them with their injection-time values, so call this before a forward whose graph still needs
    those tensors, not between that forward and its backward."""
    configs = injected_configs(model)
    states = [c.is_enabled() for c in configs]
    set_adapters_enabled(model, False)
    try:
        yield model
    finally:
        for config, state in zip(configs, states):
            config.set_enabled(model, state)


def adapter_loss_terms(model: nn.Module, forward: Any, inputs: Any, outputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """The named loss terms the injected methods add to a task's loss (see ``AdapterConfig.loss_terms``)."""
    terms: dict[str, torch.Tensor] = {}
    for config in injected_configs(model):
        terms.update(config.loss_terms(forward, inputs, outputs))
    return terms
