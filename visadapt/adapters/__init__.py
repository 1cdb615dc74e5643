"""Adapters: one API for every method and backbone.

``inject(model, cfg)`` wraps the targeted modules in place; ``mark_trainable`` freezes all but the adapter;
``adapter_state_dict`` / ``save_adapter`` / ``load_adapter`` move adapter tensors only; ``merge`` folds
mergeable adapters into the base weights, leaving the upstream module tree.
"""
from visadapt.adapters import bottleneck, coop, difffit, lora, mosa, peft_bridge, selection, ssf, vpt  # noqa: F401
from visadapt.adapters.base import AdapterConfig, AdapterLayer, register_adapter
from visadapt.adapters.functional import (
    AdapterLoadError,
    adapter_state_dict,
    count_parameters,
    inject,
    injected_configs,
    load_adapter,
    load_adapter_state_dict,
    mark_trainable,
    merge,
    read_adapter_config,
    save_adapter,
    set_injected_configs,
)
from visadapt.adapters.targeting import NoMatchingTargetError, match_targets
from visadapt.registry import ADAPTERS


def list_adapters() -> list[str]:
    return ADAPTERS.list()


__all__ = [
    "AdapterConfig",
    "AdapterLayer",
    "AdapterLoadError",
    "NoMatchingTargetError",
    "adapter_state_dict",
    "count_parameters",
    "inject",
    "injected_configs",
    "list_adapters",
    "load_adapter",
    "load_adapter_state_dict",
    "mark_trainable",
    "match_targets",
    "merge",
    "read_adapter_config",
    "register_adapter",
    "save_adapter",
    "set_injected_configs",
]
