"""The wrapper that places a bottleneck beside (parallel) or after (sequential) a module."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from visadapt.layers.bottleneck import Bottleneck
from visadapt.registry import ConfigError
from visadapt.adapters.base import AdapterLayer

if TYPE_CHECKING:
    from visadapt.adapters.bottleneck.config import BottleneckConfig


def _feature_dim(module: nn.Module) -> int:
    """The residual width of a block sub-module: the out-features of its last Linear."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if isinstance(module, nn.Linear) or linears:
        return (module if isinstance(module, nn.Linear) else linears[-1]).out_features
    raise ConfigError(f"bottleneck adapter: cannot infer the feature width of {type(module).__name__}")


class BottleneckAdapterLayer(AdapterLayer):
    """Sequential: ``y = m(x); y + s·A(y)``. Parallel: ``m(x) + s·A(h)``, h = x or the input of ``input_from``."""

    adapter_param_names: ClassVar[tuple[str, ...]] = ("adapter",)

    def __init__(self, base_layer: nn.Module, config: "BottleneckConfig"):
        super().__init__(base_layer, config)
        dim = _feature_dim(base_layer)
        self.adapter = Bottleneck(dim, config.hidden_dim, config.act, config.dropout, config.layer_norm)
        self.scale = config.scale
        self.parallel = config.placement == "parallel"
        self._stream: torch.Tensor | None = None
        self.has_input_source = False

    def attach_input_source(self, source: nn.Module) -> None:
        """Capture the input of ``source`` (e.g. the block's ``norm2``) as the adapter's input."""
        source.register_forward_pre_hook(self._capture)
        self.has_input_source = True

    def _capture(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self._stream = args[0]

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        y = self.base_layer(x, *args, **kwargs)
        if not self.parallel:
            return y + self.scale * self.adapter(y)
        if not self.has_input_source:
            return y + self.scale * self.adapter(x)
        if self._stream is None:
            raise RuntimeError("parallel adapter: the input source did not run before the adapted module")
        stream, self._stream = self._stream, None
        return y + self.scale * self.adapter(stream)
