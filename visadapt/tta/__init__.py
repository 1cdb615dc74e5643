"""Test-time adaptation: ``build_tta_method(model, dict(type='tent', ...))`` wraps a model in a method whose
``forward(x)`` adapts on the batch and returns that batch's prediction; ``reset()`` restores the start state.

Registered: ``source``, ``bn``, ``tent``, ``eta``, ``eata``, ``sar``, ``lame``, ``cotta``, ``vida``, ``rotta``; the "wisdom of crowds" filter is
the ``woc`` option of ``tent``/``eta``/``eata``/``sar``.
"""
from __future__ import annotations

from torch import nn

from visadapt.registry import TTA_METHODS, ConfigError
from visadapt.tta.base import (
    EntropyMethod,
    TTAMethod,
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
from visadapt.tta.config import build_from_config, load_tta_config, run_config
from visadapt.tta.evaluation import error_rate, format_table, run_stream, top1_errors
from visadapt.tta.rotta import CSTU, RoTTA, robust_bn_forward, timeliness
from visadapt.tta.sar import SAR
from visadapt.tta.stream import Stream, StreamBatch, StreamSpec, build_stream
from visadapt.tta.tent import Tent
from visadapt.tta.vida import ViDA, uncertainty_scales, vida_adapter_configs, vida_layer_pairs


def build_tta_method(model: nn.Module, cfg: dict) -> TTAMethod:
    """``TTA_METHODS.build(cfg, model=model)``; unknown keywords raise a ConfigError listing the accepted ones."""
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
    "run_config",
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
    "CSTU",
    "RoTTA",
    "robust_bn_forward",
    "timeliness",
    "Source",
    "TTAMethod",
    "Tent",
    "WisdomOfCrowdsFilter",
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
