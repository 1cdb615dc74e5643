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
        self.adapter = self.build_adapter(_feature_dim(base_layer), config)
        self.scale = config.scale
        self.parallel = config.placement == "parallel"
        self._stream: torch.Tensor | None = None
        self._sources: list[nn.Module] = []  # a plain list: a source must not become a sub-module

    def build_adapter(self, dim: int, config: "BottleneckConfig") -> nn.Module:
        """The bottleneck module; variants (MoSA's split bottleneck) override this and keep the placement."""
        hidden = config.hidden_dim if config.hidden_ratio is None else max(1, round(dim * config.hidden_ratio))
        return Bottleneck(dim, hidden, config.act, config.dropout, config.layer_norm)

    def attach_input_source(self, source: nn.Module) -> None:
        """Capture the input of ``source`` (e.g. the block's ``norm2``) as the adapter's input."""
        source.register_forward_pre_hook(self._capture)
        self._sources.append(source)

    def detach_input_sources(self) -> list[nn.Module]:
        """Remove this layer's capture hooks (when another layer takes its place) and return their sources."""
        sources, self._sources = self._sources, []
        for source in sources:
            for hook_id, fn in list(source._forward_pre_hooks.items()):
                if getattr(fn, "__self__", None) is self:
                    del source._forward_pre_hooks[hook_id]
        return sources

    def _capture(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if self.enabled:
            self._stream = args[0]

    def adapted_forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        out = self.base_layer(x, *args, **kwargs)
        # Attention modules in nn.MultiheadAttention's style return (output, weights): adapt the output.
        y, rest = (out[0], tuple(out[1:])) if isinstance(out, tuple) else (out, None)
        if not self.parallel:
            h = y
        elif not self._sources:
            h = x
        elif self._stream is None:
            raise RuntimeError("parallel adapter: the input source did not run before the adapted module")
        else:
            h, self._stream = self._stream, None
        y = y + self.scale * self.adapter(h)
        return y if rest is None else (y, *rest)
