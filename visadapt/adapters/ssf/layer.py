"""A per-channel affine on a layer's output, foldable into that layer's weight and bias (shared by SSF and DiffFit)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from visadapt.adapters.base import AdapterLayer
from visadapt.registry import ConfigError

if TYPE_CHECKING:
    from visadapt.adapters.base import AdapterConfig


def output_channels(module: nn.Module, method: str) -> tuple[int, int]:
    """(channels, channel dim of the output) of a layer a scale can fold into."""
    if isinstance(module, nn.Linear):
        return module.out_features, -1
    if isinstance(module, nn.LayerNorm):
        return module.normalized_shape[-1], -1
    if isinstance(module, nn.Conv2d):
        return module.out_channels, 1
    raise ConfigError(f"{method} targets nn.Linear, nn.LayerNorm or nn.Conv2d layers; got {type(module).__name__}")


class ScaleShift(AdapterLayer):
    """``y = γ ⊙ base(x) + β`` over the output channels (γ may be one scalar, β may be absent).

    Starts as the identity (γ = 1, β = 0); ``reset_parameters(std)`` draws SSF's N(1, std) / N(0, std). Folding
    into the base layer: ``W' = diag(γ) W``, ``b' = γ ⊙ b + β``. A base layer without a bias (or a LayerNorm
    without affine parameters) gets one created when needed, so its state dict then has keys the upstream
    module lacks; timm's ViT layers all have biases. Stacked on another layer, it merges only after that one.
    """

    adapter_param_names: ClassVar[tuple[str, ...]] = ("scale", "shift")
    mergeable: ClassVar[bool] = True

    def __init__(self, base_layer: nn.Module, config: "AdapterConfig", shift: bool = True, per_channel: bool = True):
        super().__init__(base_layer, config)
        channels, self.channel_dim = output_channels(self.get_base_layer(), config.method)
        ref = next(base_layer.parameters(), None)
        factory = dict(device=ref.device, dtype=ref.dtype) if ref is not None else {}
        self.scale = nn.Parameter(torch.ones(channels if per_channel else 1, **factory))
        self.shift = nn.Parameter(torch.zeros(channels, **factory)) if shift else None

    def reset_parameters(self, std: float) -> None:
        with torch.no_grad():
            self.scale.normal_(1.0, std)
            if self.shift is not None:
                self.shift.normal_(0.0, std)

    def _along_channels(self, t: torch.Tensor, ndim: int) -> torch.Tensor:
        return t if self.channel_dim == -1 else t.view(-1, *([1] * (ndim - 2)))

    def adapted_forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        y = self.base_layer(x, *args, **kwargs)
        y = y * self._along_channels(self.scale, y.dim())
        return y if self.shift is None else y + self._along_channels(self.shift, y.dim())

    def delta_fold(self, sign: int) -> None:
        """``W' = diag(γ) W``, ``b' = γ ⊙ b + β`` (and back). A weight or bias the base lacks is created on merge
        and removed again on unmerge."""
        if sign > 0 and not all(torch.isfinite(p).all() for _, p in self.adapter_named_parameters()):
            raise ValueError(f"{self.config.method} merge: non-finite scale/shift; refusing to corrupt the weights")
        base = self.get_base_layer()
        is_norm = isinstance(base, nn.LayerNorm)
        if sign > 0:
            self._created = []
            if base.weight is None:  # LayerNorm(elementwise_affine=False)
                base.weight = nn.Parameter(self.scale.new_ones(base.normalized_shape))
                base.elementwise_affine = True
                self._created.append("weight")
            if base.bias is None and self.shift is not None:
                shape = base.normalized_shape if is_norm else base.weight.shape[:1]
                base.bias = nn.Parameter(torch.zeros(shape, device=base.weight.device, dtype=base.weight.dtype))
                self._created.append("bias")
        factory = dict(device=base.weight.device, dtype=base.weight.dtype)
        scale = self.scale.to(**factory)
        shift = self.shift.to(**factory) if self.shift is not None else None
        weight_scale = scale if is_norm else scale.view(-1, *([1] * (base.weight.dim() - 1)))
        if sign > 0:
            base.weight.mul_(weight_scale)
            if base.bias is not None:
                base.bias.mul_(scale)
                if shift is not None:
                    base.bias.add_(shift)
            return
        base.weight.div_(weight_scale)
        if base.bias is not None:
            if shift is not None:
                base.bias.sub_(shift)
            base.bias.div_(scale)
        for name in getattr(self, "_created", []):
            setattr(base, name, None)
            if name == "weight":
                base.elementwise_affine = False
        self._created = []

    def extra_repr(self) -> str:
        return f"method={self.config.method}, channels={self.scale.numel()}, shift={self.shift is not None}"
