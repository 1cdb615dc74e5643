"""PEFT's own adapter format (``adapter_model.safetensors`` + ``adapter_config.json``), without ``PeftModel``.

``save_peft_pretrained`` writes what ``PeftModel(model, cfg).save_pretrained(dir)`` writes for the same
weights: keys ``base_model.model.<module>.<param>`` with the adapter name removed (from PEFT's
``get_peft_model_state_dict``) plus the ``modules_to_save`` tensors under their plain names, and PEFT's config
JSON with the explicit target names. ``load_peft_pretrained`` reads such a directory (also one written by PEFT).
"""
from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from visadapt.adapters.functional import AdapterLoadError, inject, injected_configs
from visadapt.adapters.peft_bridge._peft import require_peft, resolve_type, type_name
from visadapt.adapters.peft_bridge.config import RESERVED, PeftConfig
from visadapt.adapters.targeting import match_targets
from visadapt.registry import ConfigError

PEFT_WEIGHTS = "adapter_model.safetensors"
PEFT_CONFIG = "adapter_config.json"
PREFIX = "base_model.model."
# Fields of PEFT's config JSON that are bookkeeping, not tuner hyper-parameters.
_BOOKKEEPING = {"base_model_name_or_path", "revision", "auto_mapping", "peft_version"}


def peft_configs(model: nn.Module) -> list[PeftConfig]:
    return [c for c in injected_configs(model) if isinstance(c, PeftConfig)]


def _pick(model: nn.Module, adapter_name: str | None) -> PeftConfig:
    configs = [c for c in peft_configs(model) if adapter_name is None or c.adapter_name == adapter_name]
    if len(configs) != 1:
        have = [c.adapter_name for c in peft_configs(model)]
        raise ConfigError(f"peft bridge: expected one injected 'peft' adapter"
                          f"{f' named {adapter_name!r}' if adapter_name else ''}; the model has {have or 'none'}")
    return configs[0]


def _suffix_pattern(names: Any) -> str | list[str] | None:
    """PEFT target semantics (str: regex fullmatch; list: exact name or dotted suffix) -> a visadapt pattern."""
    if names is None:
        return None
    if isinstance(names, str):
        return "re:" + names
    alternatives = "|".join(re.escape(n) for n in sorted(names))
    return f"re:(?:.*\\.)?(?:{alternatives})"


def config_from_peft(peft_config: Any, model: nn.Module | None = None, adapter_name: str = "default") -> PeftConfig:
    """A visadapt ``PeftConfig`` equivalent to a PEFT config object (only non-default tuner fields are kept)."""
    name, config_cls, _ = resolve_type(type_name(peft_config.peft_type))
    if getattr(peft_config, "layers_to_transform", None) is not None or getattr(peft_config, "layers_pattern", None):
        raise ConfigError("peft bridge: PEFT configs with layers_to_transform/layers_pattern are not supported; "
                          "re-save with explicit target_modules")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(config_cls):
        if not f.init or f.name in RESERVED or f.name in _BOOKKEEPING:
            continue
        value = getattr(peft_config, f.name)
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if value != default:
            kwargs[f.name] = sorted(value) if isinstance(value, set) else value
    if "feedforward_modules" in kwargs:
        kwargs["feedforward_modules"] = _suffix_pattern(kwargs["feedforward_modules"])
    modules_to_save = list(peft_config.modules_to_save or [])
    if modules_to_save and model is not None:
        modules_to_save = match_targets(model, _suffix_pattern(modules_to_save), where="peft modules_to_save")
        # keep the outermost matches only (a module's children are saved with it)
        modules_to_save = [m for m in modules_to_save if not any(m.startswith(o + ".") for o in modules_to_save)]
    return PeftConfig(peft_type=name, peft_kwargs=kwargs, adapter_name=adapter_name,
                      target_modules=_suffix_pattern(peft_config.target_modules),
                      exclude_modules=_suffix_pattern(getattr(peft_config, "exclude_modules", None)),
                      modules_to_save=modules_to_save)


def peft_state_dict(model: nn.Module, adapter_name: str | None = None) -> dict[str, torch.Tensor]:
    """The tensors ``PeftModel.save_pretrained`` would write, under the same keys."""
    require_peft()
    from peft import get_peft_model_state_dict

    cfg = _pick(model, adapter_name)
    tensors = {PREFIX + k: v for k, v in get_peft_model_state_dict(model, adapter_name=cfg.adapter_name).items()}
    for mname in cfg.modules_to_save:
        for pname, p in model.get_submodule(mname).state_dict().items():
            tensors[f"{PREFIX}{mname}.{pname}"] = p
    return tensors


def save_peft_pretrained(model: nn.Module, directory: str | Path, adapter_name: str | None = None) -> Path:
    """Write ``adapter_model.safetensors`` + ``adapter_config.json`` loadable by ``PeftModel.from_pretrained``."""
    require_peft()
    from safetensors.torch import save_file

    cfg = _pick(model, adapter_name)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    seen: set[int] = set()
    tensors = {}
    for key, value in peft_state_dict(model, cfg.adapter_name).items():
        value = value.detach().cpu()
        ptr = value.untyped_storage().data_ptr()
        tensors[key] = value.clone().contiguous() if ptr in seen else value.contiguous()  # no aliasing
        seen.add(ptr)
    save_file(tensors, str(directory / PEFT_WEIGHTS), metadata={"format": "pt"})
    peft_config = copy.deepcopy(model.peft_config[cfg.adapter_name])
    peft_config.modules_to_save = list(cfg.modules_to_save) or None
    peft_config.inference_mode = True
    base = type(model)
    peft_config.save_pretrained(str(directory),
                                auto_mapping_dict={"base_model_class": base.__name__, "parent_library": base.__module__})
    return directory


def load_peft_pretrained(model: nn.Module, directory: str | Path, adapter_name: str = "default") -> nn.Module:
    """Load a PEFT-format adapter directory (written by PEFT or ``save_peft_pretrained``) into ``model``.

    Injects it (through visadapt, so the model is marked trainable as usual) unless an adapter called
    ``adapter_name`` is already injected; every saved key must fit, as with ``load_adapter``.
    """
    require_peft()
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    directory = Path(directory)
    for fname in (PEFT_CONFIG, PEFT_WEIGHTS):
        if not (directory / fname).is_file():
            raise FileNotFoundError(f"no {fname} in {directory} (expected PEFT's {PEFT_CONFIG} + {PEFT_WEIGHTS})")
    if not any(c.adapter_name == adapter_name for c in peft_configs(model)):
        peft_type = json.loads((directory / PEFT_CONFIG).read_text()).get("peft_type")
        _, config_cls, _ = resolve_type(type_name(peft_type))
        hf_config = config_cls.from_pretrained(str(directory))
        inject(model, config_from_peft(hf_config, model, adapter_name))
    cfg = _pick(model, adapter_name)

    saved = load_file(str(directory / PEFT_WEIGHTS))
    bad_prefix = [k for k in saved if not k.startswith(PREFIX)]
    if bad_prefix:
        raise AdapterLoadError(f"{directory / PEFT_WEIGHTS}: keys without PEFT's '{PREFIX}' prefix: {bad_prefix[:5]}")
    saved = {k[len(PREFIX):]: v for k, v in saved.items()}
    own = {k[len(PREFIX):]: v for k, v in peft_state_dict(model, adapter_name).items()}
    missing = sorted(set(own) - set(saved))
    unexpected = sorted(set(saved) - set(own))
    shapes = [f"{k}: saved {tuple(saved[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in saved and saved[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        raise AdapterLoadError(f"{directory / PEFT_WEIGHTS} does not fit this model: missing {missing[:10]}; "
                               f"unexpected {unexpected[:10]}; shape mismatches {shapes[:5]}")
    plain = {f"{m}.": m for m in cfg.modules_to_save}
    is_plain = lambda k: any(k.startswith(p) for p in plain)  # noqa: E731
    set_peft_model_state_dict(model, {k: v for k, v in saved.items() if not is_plain(k)}, adapter_name=adapter_name)
    with torch.no_grad():
        for key, value in saved.items():
            if is_plain(key):
                own[key].copy_(value)
    return model
