"""The video adapters' layers around stock diffusers modules, frames folded into the batch.

``TemporalConvLayer`` (SimDA's temporal adapter) wraps a ResNet block of the UNet and adds a zero-initialised
depth-wise temporal convolution bottleneck to its output; ``TemporalAttentionLayer`` (Tune-A-Video's baseline) wraps
a ``BasicTransformerBlock`` and adds attention over the frames at each spatial position, output projection zeroed.
Both start as the identity, so the adapted UNet begins as the image UNet applied frame by frame.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from visadapt.adapters.base import AdapterLayer
from visadapt.adapters.video.frames import frame_count

if TYPE_CHECKING:
    from visadapt.adapters.base import AdapterConfig


class TemporalConvAdapter(nn.Module):
    """SimDA's ``Temp_Adapter`` on (B, C, F, H, W): 1x1x1 down to ``hidden`` channels, depth-wise 3x1x1 over time,
    1x1x1 up (zero-initialised), no activation between them (as in the reference code)."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.down = nn.Conv3d(channels, hidden, 1)
        self.temporal = nn.Conv3d(hidden, hidden, (3, 1, 1), padding=(1, 0, 0), groups=hidden)
        self.up = nn.Conv3d(hidden, channels, 1)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.up(self.temporal(self.down(clips)))


def as_clips(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B*F, C, H, W) -> (B, C, F, H, W)."""
    rows, *rest = x.shape
    return x.reshape(rows // num_frames, num_frames, *rest).transpose(1, 2)


def as_frames(x: torch.Tensor) -> torch.Tensor:
    """(B, C, F, H, W) -> (B*F, C, H, W)."""
    return x.transpose(1, 2).flatten(0, 1)


class TemporalConvLayer(AdapterLayer):
    """``h = resnet(x, temb); h + adapter(h)`` over the frames of each clip (SimDA: after each ResNet that feeds a
    transformer, mid block included)."""

    adapter_param_names: ClassVar[tuple[str, ...]] = ("adapter",)

    def __init__(self, base_layer: nn.Module, config: "AdapterConfig", hidden_ratio: float = 0.5,
                 skip_when_checkpointed: nn.Module | None = None):
        super().__init__(base_layer, config)
        channels = base_layer.out_channels
        self.adapter = TemporalConvAdapter(channels, max(1, round(channels * hidden_ratio)))
        # SimDA's code skips this adapter in training when its block is gradient-checkpointed (a bug, reproduced
        # only on request): a plain list, so the block does not become a sub-module.
        self._skip_with = [skip_when_checkpointed] if skip_when_checkpointed is not None else []

    def adapted_forward(self, input_tensor: torch.Tensor, temb: torch.Tensor | None, *args: Any,
                        **kwargs: Any) -> torch.Tensor:
        hidden = self.base_layer(input_tensor, temb, *args, **kwargs)
        if self._skip_with and self.training and torch.is_grad_enabled() and \
                getattr(self._skip_with[0], "gradient_checkpointing", False):
            return hidden
        num_frames = frame_count(self.call_context, hidden.shape[0], f"{self.config.method} temporal adapter")
        return hidden + as_frames(self.adapter(as_clips(hidden, num_frames)))


class TemporalAttentionLayer(AdapterLayer):
    """Tune-A-Video's temporal attention after a transformer block: tokens at one spatial position attend over the
    frames of their clip (``norm_temp`` + ``attn_temp``, residual). Tune-A-Video zeroes only the output weight and
    keeps a random output bias; both are zeroed here so that the baseline starts as the image model too."""

    adapter_param_names: ClassVar[tuple[str, ...]] = ("norm_temp", "attn_temp")

    def __init__(self, base_layer: nn.Module, config: "AdapterConfig"):
        from diffusers.models.attention_processor import Attention

        super().__init__(base_layer, config)
        dim, heads = base_layer.attn1.to_q.in_features, base_layer.attn1.heads
        self.norm_temp = nn.LayerNorm(dim)
        self.attn_temp = Attention(query_dim=dim, heads=heads, dim_head=dim // heads)
        nn.init.zeros_(self.attn_temp.to_out[0].weight)
        nn.init.zeros_(self.attn_temp.to_out[0].bias)

    def adapted_forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        out = self.base_layer(hidden_states, *args, **kwargs)
        rows, tokens, channels = out.shape
        num_frames = frame_count(self.call_context, rows, f"{self.config.method} temporal attention")
        clips = rows // num_frames
        by_position = out.reshape(clips, num_frames, tokens, channels).transpose(1, 2).reshape(-1, num_frames, channels)
        by_position = by_position + self.attn_temp(self.norm_temp(by_position))
        return by_position.reshape(clips, tokens, num_frames, channels).transpose(1, 2).reshape(rows, tokens, channels)
