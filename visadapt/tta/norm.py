"""``source`` (no adaptation) and ``bn`` (test-time BN statistics, incl. the alpha mix); tta.md 1.1, 1.2."""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from visadapt.registry import TTA_METHODS, ConfigError
from visadapt.tta.base import TTAMethod


@TTA_METHODS.register("source")
class Source(TTAMethod):
    """No adaptation: ``model.eval()``, no gradients; the prediction is ``model(x)``."""

    @torch.no_grad()
    def forward_and_adapt(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _alpha_bn_forward(bn: _BatchNorm, alpha: float, x: torch.Tensor) -> torch.Tensor:
    dims = [0] + list(range(2, x.dim()))
    batch_mean = x.mean(dims)
    batch_var = x.var(dims, unbiased=False)
    mean = (1 - alpha) * bn.running_mean + alpha * batch_mean
    var = (1 - alpha) * bn.running_var + alpha * batch_var
    return F.batch_norm(x, mean, var, bn.weight, bn.bias, training=False, eps=bn.eps)


@TTA_METHODS.register("bn")
class BNAdapt(TTAMethod):
    """Normalise with test-batch BN statistics; nothing is trained.

    ``alpha=None`` (default): "BN-1" / ``Norm`` — every BatchNorm in train mode (the rest of the model in
    eval), so each batch is normalised with its own mean and (biased) variance; the running statistics are
    still updated with ``momentum`` (0.1, reference ``BN.MOM``) but unused for the output.
    ``eps`` (reference ``BN.EPS`` = 1e-5) is set on every BN layer when given.

    ``alpha`` in (0, 1]: mariodoebler's ``BNAlpha`` / ``AlphaBatchNorm`` (after Schneider et al. 2020):
    statistics = (1 - alpha) * source + alpha * test batch, per channel, for mean and variance (biased batch
    variance); the source running statistics stay fixed. Reference default ``BN.ALPHA = 0.1`` (used there
    with batch size 1). Implemented by overriding each BN instance's ``forward`` (module names and state
    dict unchanged).

    ``reset_stats`` resets the running statistics first (reference option; meaningless for the output of
    BN-1). For LayerNorm ViTs this method equals ``source`` (tta.md 1.2 pitfall iii).
    """

    def __init__(
        self,
        model: nn.Module,
        alpha: float | None = None,
        momentum: float = 0.1,
        eps: float | None = 1e-5,
        reset_stats: bool = False,
        **kwargs,
    ):
        if alpha is not None and not 0 < alpha <= 1:
            raise ConfigError(f"bn: alpha must be in (0, 1], got {alpha}")
        self.alpha, self.momentum, self.eps, self.reset_stats = alpha, momentum, eps, reset_stats
        super().__init__(model, **kwargs)

    def bn_layers(self) -> list[_BatchNorm]:
        return [m for m in self.model.modules() if isinstance(m, _BatchNorm)]

    def configure_model(self) -> None:
        self.model.requires_grad_(False)
        for m in self.bn_layers():
            if self.eps is not None:
                m.eps = self.eps
            if self.alpha is None:
                m.momentum = self.momentum
                if self.reset_stats:
                    m.reset_running_stats()
            else:
                if m.running_mean is None:
                    raise ConfigError("bn: alpha mixing needs BN layers with source running statistics")
                m.forward = functools.partial(_alpha_bn_forward, m, float(self.alpha))
        self.set_modes()

    def set_modes(self) -> None:
        self.model.eval()
        if self.alpha is None:
            for m in self.bn_layers():
                m.train()

    @torch.no_grad()
    def forward_and_adapt(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
