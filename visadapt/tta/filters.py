"""The "wisdom of crowds" sample filter (Lee, Das, Choo, Choi, ICCV 2023; tta.md 1.7) as a plug-in.

Keep for the loss only the samples (or pixels) whose confidence under the adapted model, measured on the
class the *original* model predicts, is at least the original model's confidence:

    c_i = argmax p_o,i;  keep i  iff  p_a,i[c_i] >= p_o,i[c_i]

At the first batch adapted == original, so every sample passes. The original model's output comes from
``TTAMethod.original_forward`` (initial trainable parameters swapped in functionally, under no_grad: no model
copy and no autograd graph through it, unlike the third-party reference).

``diversity_weight`` adds UniEnt's diversity term ``-alpha * H(mean_i p_a,i)`` (its default alpha is 0.5;
here the plain filter defaults to 0, i.e. no extra term, so switching the filter on only changes the selection).
"""
from __future__ import annotations

import torch

from visadapt.registry import ConfigError


class WisdomOfCrowdsFilter:
    def __init__(self, diversity_weight: float = 0.0):
        self.diversity_weight = float(diversity_weight)

    @staticmethod
    def mask(adapted_logits: torch.Tensor, original_logits: torch.Tensor) -> torch.Tensor:
        """Bool keep-mask over the rows of ``[N, C]`` logits."""
        p_o = original_logits.softmax(-1)
        conf_o, cls = p_o.max(-1)
        conf_a = adapted_logits.softmax(-1).gather(-1, cls[:, None])[:, 0]
        return conf_a >= conf_o

    def extra_loss(self, flat_logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        if not self.diversity_weight:
            return None
        mean_p = flat_logits.softmax(-1).mean(0)
        return self.diversity_weight * (mean_p * torch.log(mean_p.clamp_min(1e-12))).sum()  # = -alpha * H(mean p)


def build_filter(cfg: bool | dict | None) -> WisdomOfCrowdsFilter | None:
    if cfg is None or cfg is False:
        return None
    if cfg is True:
        return WisdomOfCrowdsFilter()
    if isinstance(cfg, dict):
        try:
            return WisdomOfCrowdsFilter(**cfg)
        except TypeError as err:
            raise ConfigError(f"woc: {err} (accepted: diversity_weight)") from err
    raise ConfigError(f"woc: expected a bool or a dict, got {cfg!r}")
