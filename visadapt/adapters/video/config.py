"""SimDA and the Tune-A-Video baseline as adapter methods on a stock ``UNet2DConditionModel`` (frames folded into the
batch; the frame count reaches every layer and processor through the model's call context).

``simda`` (Xing et al., CVPR 2024, arXiv:2308.09710; layout from ChenHsing/SimDA): latent-shift attention as the
processor of every ``attn1``; a temporal adapter after each ResNet that feeds a transformer (mid block included);
two spatial bottlenecks per transformer block (ratio 0.25, GELU, up-projection zeroed): one on the self-attention
output, one parallel to the feed-forward fed the un-normalised stream (the input of ``norm3``).

``tune_a_video`` (Wu et al., ICCV 2023): sparse-causal attention (frames 0 and f-1) in every ``attn1``, temporal
attention after each transformer block, and the attention queries (``attn1.to_q``, ``attn2.to_q``) trained in place.

Both add their layers under ``target_modules`` (default ``unet``), found by structure (diffusers' block classes), so
an SD-1.x UNet and the model-zoo UNet need no name lists; neither merges into the base weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

from torch import nn

from visadapt.adapters.base import AdapterConfig, AdapterLayer, register_adapter, wrap_module
from visadapt.adapters.bottleneck.config import BottleneckConfig
from visadapt.adapters.bottleneck.layer import BottleneckAdapterLayer
from visadapt.adapters.targeting import match_targets
from visadapt.adapters.video.attention import CrossFrameAttnProcessor
from visadapt.adapters.video.layers import TemporalAttentionLayer, TemporalConvLayer
from visadapt.registry import ConfigError


def _transformer_blocks(root: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Module]]:
    """diffusers' ``BasicTransformerBlock``\\s (the blocks with ``attn1`` and ``ff``) under ``root``."""
    for name, module in root.named_modules():
        if hasattr(module, "attn1") and hasattr(module, "ff") and not isinstance(module, AdapterLayer):
            yield f"{prefix}{name}", module


def _resnets_before_transformers(root: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Module, nn.Module]]:
    """(name, resnet, its block) for each ResNet whose output feeds a transformer: ``resnets[i]`` for ``i <
    len(attentions)`` in the cross-attention down, mid and up blocks."""
    for name, block in root.named_modules():
        if hasattr(block, "resnets") and hasattr(block, "attentions"):
            for i in range(min(len(block.attentions), len(block.resnets))):
                yield f"{prefix}{name}.resnets.{i}", block.resnets[i], block


@dataclass
class VideoAdapterConfig(AdapterConfig):
    """What both video methods share: cross-frame attention processors on ``attn1`` (restored when switched off or
    unloaded), layers owned by the method's part-configs, no merging."""

    mergeable: ClassVar[bool] = False
    frame_pairs: ClassVar[str] = ""
    default_targets: ClassVar[tuple[str, ...]] = ("unet",)

    def roots(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        names = match_targets(model, self.target_modules, self.exclude_modules, where=f"adapter '{self.method}'")
        return [(n, model.get_submodule(n)) for n in names]

    def parts(self) -> tuple[AdapterConfig, ...]:
        """The configs whose layers belong to this method (itself, and sub-configs for shared layer classes)."""
        return (self,)

    def layers(self, model: nn.Module) -> list[tuple[str, AdapterLayer]]:
        parts = self.parts()
        return [(n, m) for n, m in model.named_modules()
                if isinstance(m, AdapterLayer) and any(m.config is p for p in parts)]

    def install_processors(self, model: nn.Module, shift: bool) -> None:
        from visadapt.adapters.functional import model_call_context

        context = model_call_context(model)
        self._processors: list[tuple[nn.Module, Any, Any]] = []
        for root_name, root in self.roots(model):
            for _, block in _transformer_blocks(root, f"{root_name}."):
                attn = block.attn1.get_base_layer() if isinstance(block.attn1, AdapterLayer) else block.attn1
                processor = CrossFrameAttnProcessor(context, self.frame_pairs, shift=shift)
                self._processors.append((attn, attn.get_processor(), processor))
                attn.set_processor(processor)
        if not self._processors:
            raise ConfigError(f"adapter '{self.method}': no transformer block (attn1 + ff) under {self.target_modules}")

    def set_enabled(self, model: nn.Module, enabled: bool) -> None:
        super().set_enabled(model, enabled)
        for attn, original, processor in getattr(self, "_processors", []):
            attn.set_processor(processor if enabled else original)


@dataclass
class _SpatialAdapter(BottleneckConfig):
    """SimDA's spatial bottlenecks (a part of ``simda``, not a method of its own)."""

    method: ClassVar[str] = "simda"


@register_adapter
@dataclass
class SimDAConfig(VideoAdapterConfig):
    """SimDA's adapters.

    Args:
        temporal: the temporal adapters (``temporal_ratio`` x channels in the bottleneck; 0.5 in SimDA).
        spatial: the two spatial bottlenecks per transformer block (``spatial_ratio`` x width; 0.25).
        latent_shift: latent-shift attention in ``attn1`` (else plain per-frame self-attention).
        reference_checkpointing: reproduce SimDA's code under gradient checkpointing, where the temporal adapters
            of the down and up blocks are skipped in training (not at inference); off by default (a bug there).
    """

    method: ClassVar[str] = "simda"
    frame_pairs: ClassVar[str] = "previous_and_current"

    temporal: bool = True
    temporal_ratio: float = 0.5
    spatial: bool = True
    spatial_ratio: float = 0.25
    latent_shift: bool = True
    reference_checkpointing: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.temporal or self.spatial or self.latent_shift):
            raise ConfigError("adapter 'simda': temporal, spatial and latent_shift are all off: nothing to add")
        for key in ("temporal_ratio", "spatial_ratio"):
            if not 0 < getattr(self, key) <= 4:
                raise ConfigError(f"adapter 'simda': {key} must be in (0, 4], got {getattr(self, key)}")
        self._attn_adapter = _SpatialAdapter(act="gelu", hidden_ratio=self.spatial_ratio)
        self._ffn_adapter = _SpatialAdapter(act="gelu", hidden_ratio=self.spatial_ratio, placement="parallel",
                                            input_from="norm3")

    def parts(self) -> tuple[AdapterConfig, ...]:
        return (self, self._attn_adapter, self._ffn_adapter)

    def inject(self, model: nn.Module) -> list[str]:
        if self.latent_shift:
            self.install_processors(model, shift=True)
        names: list[str] = []
        for root_name, root in self.roots(model):
            prefix = f"{root_name}."
            if self.temporal:
                for name, _, block in list(_resnets_before_transformers(root, prefix)):
                    skip = block if self.reference_checkpointing and "Mid" not in type(block).__name__ else None
                    wrap_module(model, name, lambda m: TemporalConvLayer(m, self, self.temporal_ratio, skip),
                                self.method)
                    names.append(name)
            if self.spatial:
                for name, block in list(_transformer_blocks(root, prefix)):
                    wrap_module(model, f"{name}.attn1", lambda m: BottleneckAdapterLayer(m, self._attn_adapter),
                                self.method)
                    ffn = wrap_module(model, f"{name}.ff", lambda m: BottleneckAdapterLayer(m, self._ffn_adapter),
                                      self.method)
                    ffn.attach_input_source(block.norm3)
                    names += [f"{name}.attn1", f"{name}.ff"]
        return names


@register_adapter
@dataclass
class TuneAVideoConfig(VideoAdapterConfig):
    """The Tune-A-Video recipe SimDA is compared with.

    Args:
        temporal_attention: temporal attention after each transformer block.
        train_queries: train ``attn1.to_q`` and ``attn2.to_q`` of every block in place.
    """

    method: ClassVar[str] = "tune_a_video"
    frame_pairs: ClassVar[str] = "first_and_previous"

    temporal_attention: bool = True
    train_queries: bool = True

    def inject(self, model: nn.Module) -> list[str]:
        self.install_processors(model, shift=False)
        names: list[str] = []
        for root_name, root in self.roots(model):
            for name, _ in list(_transformer_blocks(root, f"{root_name}.")) if self.temporal_attention else []:
                wrap_module(model, name, lambda m: TemporalAttentionLayer(m, self), self.method)
                names.append(name)
        return names

    def owned_parameters(self, model: nn.Module) -> list[str]:
        names = super().owned_parameters(model)
        if self.train_queries:
            for root_name, root in self.roots(model):
                for name, block in _transformer_blocks(root, f"{root_name}."):
                    inner = block.get_base_layer() if isinstance(block, AdapterLayer) else block
                    names += [f"{name}.{p}" for p, _ in inner.named_parameters()
                              if p.startswith(("attn1.to_q.", "attn2.to_q."))]
        return names
