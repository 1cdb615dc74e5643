"""Test-time adaptation: ``build_tta_method(model, dict(type='tent', ...))`` wraps a model in a method whose
``forward(x)`` adapts on the batch and returns that batch's prediction; ``reset()`` restores the start state.

Registered: ``source``, ``bn``, ``tent``, ``eta``, ``eata``, ``sar``, ``lame``, ``cotta``, ``vida``; the "wisdom of crowds" filter is
the ``woc`` option of ``tent``/``eta``/``eata``/``sar``.
"""
from __future__ import annotations

import difflib
import inspect

from torch import nn

from visadapt.registry import TTA_METHODS, ConfigError
from visadapt.tta.base import (
    EntropyMethod,
    TTAMethod,
    build_optimizer,
    flatten_logits,
    norm_affine_params,
    softmax_entropy,
    use_batch_statistics,
)
from visadapt.tta.cotta import (
    CoTTA,
    apply_aug,
    augment_views,
    draw_aug_params,
    ema_update,
    stochastic_restore,
    teacher_student_loss,
)
from visadapt.tta.eata import ETA, EATA, eata_selection, update_model_probs
from visadapt.tta.filters import WisdomOfCrowdsFilter
from visadapt.tta.lame import LAME, knn_affinity, laplacian_optimization, linear_affinity, rbf_affinity
from visadapt.tta.norm import BNAdapt, Source
from visadapt.tta.runner import build_from_config, error_rate, format_table, load_tta_config, run_stream, top1_errors
from visadapt.tta.sar import SAR
from visadapt.tta.stream import Stream, StreamBatch, StreamSpec, build_stream
from visadapt.tta.tent import Tent
from visadapt.tta.vida import ViDA, uncertainty_scales, vida_adapter_configs, vida_layer_pairs


def accepted_arguments(cls: type) -> list[str]:
    """Keyword arguments a method class accepts, following ``**kwargs`` up its base classes."""
    names: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(vars(klass)["__init__"]).parameters
        names += [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            break
    return list(dict.fromkeys(n for n in names if n not in ("self", "model")))


def build_tta_method(model: nn.Module, cfg: dict) -> TTAMethod:
    """``TTA_METHODS.build(cfg, model=model)``; unknown keywords raise a ConfigError listing the accepted ones."""
    if isinstance(cfg, dict) and "type" in cfg:
        accepted = accepted_arguments(TTA_METHODS.get(cfg["type"]))
        unknown = [k for k in cfg if k != "type" and k not in accepted]
        if unknown:
            hints = []
            for k in unknown:
                near = difflib.get_close_matches(k, accepted, n=1, cutoff=0.6)
                hints.append(f"'{k}'" + (f" (did you mean '{near[0]}'?)" if near else ""))
            raise ConfigError(
                f"TTA method '{cfg['type']}': unknown argument(s) {', '.join(hints)}. Accepted: {', '.join(accepted)}"
            )
    try:
        return TTA_METHODS.build(cfg, model=model)
    except TypeError as err:
        raise ConfigError(f"TTA method {cfg.get('type')!r}: {err}") from err


def list_tta_methods() -> list[str]:
    return TTA_METHODS.list()


__all__ = [
    "Stream",
    "StreamBatch",
    "StreamSpec",
    "build_stream",
    "run_stream",
    "load_tta_config",
    "build_from_config",
    "error_rate",
    "top1_errors",
    "format_table",
    "BNAdapt",
    "CoTTA",
    "ViDA",
    "apply_aug",
    "augment_views",
    "draw_aug_params",
    "ema_update",
    "stochastic_restore",
    "teacher_student_loss",
    "uncertainty_scales",
    "vida_adapter_configs",
    "vida_layer_pairs",
    "EATA",
    "ETA",
    "EntropyMethod",
    "LAME",
    "SAR",
    "Source",
    "TTAMethod",
    "Tent",
    "WisdomOfCrowdsFilter",
    "accepted_arguments",
    "build_optimizer",
    "build_tta_method",
    "eata_selection",
    "flatten_logits",
    "knn_affinity",
    "laplacian_optimization",
    "linear_affinity",
    "list_tta_methods",
    "norm_affine_params",
    "rbf_affinity",
    "softmax_entropy",
    "update_model_probs",
    "use_batch_statistics",
]
