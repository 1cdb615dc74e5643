"""Cross-frame self-attention as a diffusers attention processor: set on a stock ``Attention`` (``*.attn1``) with
``attn.set_processor``, it reuses the frozen ``to_q/to_k/to_v/to_out`` and adds no parameters.

Each frame's queries attend to the keys and values of two frames of its clip (``FRAME_PAIRS``): SimDA's latent-shift
attention reads frames f-1 and f of the latent-shifted tokens; Tune-A-Video's sparse-causal attention reads frames 0
and f-1 unshifted. Keys and values are projected once per frame and then gathered, so a frame pair costs the
attention over 2N keys and nothing else. With identical frames both equal plain self-attention (duplicated keys and
values leave the softmax average unchanged).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from visadapt.adapters.base import CallContext
from visadapt.adapters.video.frames import FRAME_PAIRS, frame_count, gather_frames, latent_shift, token_grid
from visadapt.registry import ConfigError


class CrossFrameAttnProcessor:
    """``frames``: ``previous_and_current`` (SimDA) or ``first_and_previous`` (Tune-A-Video); ``shift``: read keys and
    values from SimDA's latent-shifted tokens. ``context`` carries ``num_frames`` (and optionally ``latent_size``)."""

    def __init__(self, context: CallContext, frames: str = "previous_and_current", shift: bool = True):
        if frames not in FRAME_PAIRS:
            raise ConfigError(f"cross-frame attention: frames must be one of {sorted(FRAME_PAIRS)}, got {frames!r}")
        self.context, self.frames, self.shift = context, frames, bool(shift)

    def __call__(self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None, *args: Any,
                 **kwargs: Any) -> torch.Tensor:
        where = "cross-frame attention"
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ConfigError(f"{where} replaces self-attention (attn1) only; it got encoder states or a mask")
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        image_layout = hidden_states.ndim == 4
        if image_layout:
            rows, channels, height, width = hidden_states.shape
            hidden_states = hidden_states.view(rows, channels, height * width).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        rows, tokens, _ = hidden_states.shape
        num_frames = frame_count(self.context, rows, where)

        source = hidden_states
        if self.shift:
            h, w = (height, width) if image_layout else token_grid(tokens, self.context, where)
            source = latent_shift(hidden_states, num_frames, h, w)
        query = attn.to_q(hidden_states)
        key = gather_frames(attn.to_k(source), num_frames, self.frames)
        value = gather_frames(attn.to_v(source), num_frames, self.frames)

        head_dim = key.shape[-1] // attn.heads
        query, key, value = (x.view(rows, -1, attn.heads, head_dim).transpose(1, 2) for x in (query, key, value))
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        out = F.scaled_dot_product_attention(query, key, value, dropout_p=0.0, is_causal=False)
        out = out.transpose(1, 2).reshape(rows, -1, attn.heads * head_dim).to(query.dtype)
        out = attn.to_out[1](attn.to_out[0](out))
        if image_layout:
            out = out.transpose(-1, -2).reshape(rows, channels, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor
