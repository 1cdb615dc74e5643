"""Adapters: one API for every method and backbone.

``inject(model, cfg)`` wraps the targeted modules in place; ``mark_trainable`` freezes all but the adapter;
``adapter_state_dict`` / ``save_adapter`` / ``load_adapter`` move adapter tensors only; ``merge`` folds
mergeable adapters into the base weights (leaving the upstream module tree, or keeping the wrappers so that
``unmerge`` can undo it); ``disable_adapters`` gives the base model's outputs inside a ``with`` block;
``call_context`` hands layers per-call values that the wrapped modules do not take as arguments.
"""
from visadapt.adapters import bottleneck, coop, difffit, lora, mosa, peft_bridge, selection, ssf, video, vpt  # noqa: F401
from visadapt.adapters.base import AdapterConfig, AdapterLayer, CallContext, register_adapter, wrap_module
from visadapt.adapters.functional import (
    AdapterLoadError,
    adapted_model,
    adapter_loss_terms,
    adapter_state_dict,
    call_context,
    count_parameters,
    disable_adapters,
    inject,
    injected_configs,
    load_adapter,
    load_adapter_state_dict,
    mark_trainable,
    merge,
    module_prefix,
    read_adapter_config,
    save_adapter,
    set_adapters_enabled,
    set_call_context,
    set_injected_configs,
    unmerge,
)
from visadapt.adapters.targeting import NoMatchingTargetError, match_targets
from visadapt.registry import ADAPTERS


def list_adapters() -> list[str]:
    return ADAPTERS.list()


__all__ = [
    "AdapterConfig",
    "AdapterLayer",
    "AdapterLoadError",
    "CallContext",
    "NoMatchingTargetError",
    "adapted_model",
    "adapter_loss_terms",
    "adapter_state_dict",
    "call_context",
    "count_parameters",
    "disable_adapters",
    "inject",
    "injected_configs",
    "list_adapters",
    "load_adapter",
    "load_adapter_state_dict",
    "mark_trainable",
    "match_targets",
    "merge",
    "module_prefix",
    "read_adapter_config",
    "register_adapter",
    "save_adapter",
    "set_adapters_enabled",
    "set_call_context",
    "set_injected_configs",
    "unmerge",
    "wrap_module",
]
