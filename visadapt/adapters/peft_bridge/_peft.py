"""Lazy access to HF PEFT (an optional dependency) and the tuner types its functional API can inject."""
from __future__ import annotations

import enum
from typing import Any

from visadapt.registry import ConfigError

INSTALL_HINT = 'pip install "visadapt[peft]"'
# Sugar accepted in ``peft_type`` on top of PEFT's own names: peft type and the kwargs it implies.
ALIASES: dict[str, tuple[str, dict[str, Any]]] = {"DORA": ("LORA", {"use_dora": True})}
# Why some PEFT types cannot go through ``inject_adapter_in_model`` (computed reasons are added at lookup).
_NOT_INJECTABLE = {
    "ADAPTION_PROMPT": "LLaMA-Adapter, needs a transformers LLaMA model",
    "SHADOW": "refused by peft.inject_adapter_in_model",
}


def require_peft(where: str = "adapter 'peft'"):
    """Import and return ``peft``; a ConfigError with the install command when it is missing."""
    try:
        import peft
    except ImportError as err:
        raise ConfigError(f"{where} needs HF PEFT, which is not installed: {INSTALL_HINT}") from err
    return peft


def type_name(value: Any) -> str:
    """``PeftType.LORA`` / ``"lora"`` -> ``"LORA"``."""
    if isinstance(value, enum.Enum):
        value = value.value
    return str(value).upper()


def _classify() -> tuple[dict[str, type], dict[str, str]]:
    """(injectable type -> PEFT config class, other known type -> why it cannot be injected)."""
    require_peft()
    from peft.config import PromptLearningConfig
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING, PEFT_TYPE_TO_TUNER_MAPPING

    ok: dict[str, type] = {}
    refused: dict[str, str] = {}
    for key, tuner_cls in PEFT_TYPE_TO_TUNER_MAPPING.items():
        name = type_name(key)
        config_cls = PEFT_TYPE_TO_CONFIG_MAPPING.get(key)
        if name in _NOT_INJECTABLE:
            refused[name] = _NOT_INJECTABLE[name]
        elif config_cls is None or issubclass(config_cls, PromptLearningConfig):
            refused[name] = "a prompt-learning method for transformers language models"
        else:
            ok[name] = config_cls
    return ok, refused


def uses_shared_state(peft_type: str) -> bool:
    """Tuners (VeRA, ...) whose layers share tensors made by the tuner object: ``inject_adapter_in_model`` refuses
    them, so the bridge injects them with ``get_peft_model`` and keeps only the (modified in place) model."""
    require_peft()
    from peft.mapping import PEFT_TYPE_TO_TUNER_MAPPING

    tuner_cls = {type_name(k): v for k, v in PEFT_TYPE_TO_TUNER_MAPPING.items()}.get(type_name(peft_type))
    return bool(getattr(tuner_cls, "uses_shared_state", False))


def injectable_types() -> list[str]:
    """Every ``peft_type`` the bridge accepts (PEFT's injectable tuners plus the aliases)."""
    return sorted(set(_classify()[0]) | set(ALIASES))


def resolve_type(peft_type: str) -> tuple[str, type, dict[str, Any]]:
    """``peft_type`` -> (PEFT type name, PEFT config class, implied kwargs); ConfigError listing valid names."""
    name = type_name(peft_type)
    implied: dict[str, Any] = {}
    if name in ALIASES:
        name, implied = ALIASES[name][0], dict(ALIASES[name][1])
    ok, refused = _classify()
    if name in ok:
        if uses_shared_state(name) and "save_projection" in getattr(ok[name], "__dataclass_fields__", {}):
            # The shared random projections live on the tuner object, which the bridge does not keep; PEFT
            # regenerates them from ``projection_prng_key`` when they are not saved, so exports leave them out.
            implied["save_projection"] = False
        return name, ok[name], implied
    valid = ", ".join(injectable_types())
    if name in refused:
        raise ConfigError(f"adapter 'peft': peft_type '{peft_type}' cannot be used: {refused[name]}. "
                          f"Valid peft_type values: {valid}")
    raise ConfigError(f"adapter 'peft': unknown peft_type '{peft_type}'. Valid peft_type values: {valid}")
