"""open_clip's attention with separate q / k / v / out projections, so adapters can wrap each of them.

``nn.MultiheadAttention`` keeps q, k and v in one ``in_proj_weight`` parameter and passes ``out_proj``'s weight to
a functional kernel without calling the module (clip.md 4: hooks or wrappers on it are silently ignored). CLIP-LoRA
therefore replaces the whole attention module; :class:`SplitQKVAttention` is that replacement, built from an
existing ``nn.MultiheadAttention`` with identical outputs, and :func:`fuse_attention` turns it back into one (e.g.
after merging adapters) so the state dict is open_clip's again.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from visadapt.adapters.targeting import get_parent, match_targets
from visadapt.registry import ConfigError


class SplitQKVAttention(nn.Module):
    """``nn.MultiheadAttention``'s forward contract (masks, padding, optional attention weights) over four
    ``nn.Linear`` modules, computed with ``F.scaled_dot_product_attention`` when no weights are asked for."""

    def __init__(self, mha: nn.MultiheadAttention):
        super().__init__()
        if not mha._qkv_same_embed_dim:
            raise ConfigError("SplitQKVAttention: attention with different key/value sizes is not supported")
        dim, bias = mha.embed_dim, mha.in_proj_bias is not None
        self.num_heads, self.batch_first, self.dropout = mha.num_heads, mha.batch_first, mha.dropout
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(dim, dim, bias=bias) for _ in range(3))
        self.out_proj = nn.Linear(dim, dim, bias=mha.out_proj.bias is not None)
        with torch.no_grad():
            for proj, weight in zip((self.q_proj, self.k_proj, self.v_proj), mha.in_proj_weight.chunk(3)):
                proj.weight.copy_(weight)
            if bias:
                for proj, b in zip((self.q_proj, self.k_proj, self.v_proj), mha.in_proj_bias.chunk(3)):
                    proj.bias.copy_(b)
            self.out_proj.load_state_dict(mha.out_proj.state_dict())
        self.to(mha.in_proj_weight.device, mha.in_proj_weight.dtype).train(mha.training)  # an eval model stays eval

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, need_weights: bool = False,
                attn_mask: torch.Tensor | None = None, key_padding_mask: torch.Tensor | None = None,
                average_attn_weights: bool = True):
        """As ``nn.MultiheadAttention.forward``: masks are additive floats or booleans (True = not attended);
        with ``need_weights`` the attention probabilities come back too (averaged over heads by default)."""
        if not self.batch_first:  # [L, B, D] -> [B, L, D]
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        batch, length, dim = query.shape
        mask = _additive(attn_mask, query.dtype)
        if key_padding_mask is not None:  # [B, S] -> [B, 1, 1, S], added to every head and query
            padding = _additive(key_padding_mask, query.dtype)[:, None, None, :]
            mask = padding if mask is None else mask + padding
        heads = lambda x: x.view(batch, -1, self.num_heads, dim // self.num_heads).transpose(1, 2)  # noqa: E731
        q, k, v = heads(self.q_proj(query)), heads(self.k_proj(key)), heads(self.v_proj(value))
        dropout = self.dropout if self.training else 0.0
        weights = None
        if need_weights:  # the fused kernel does not return probabilities: compute them explicitly
            scores = q @ k.transpose(-2, -1) / (q.shape[-1] ** 0.5)
            probs = (scores if mask is None else scores + mask).softmax(-1)
            out = F.dropout(probs, dropout, self.training) @ v
            weights = probs.mean(1) if average_attn_weights else probs
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        out = self.out_proj(out.transpose(1, 2).reshape(batch, length, dim))
        return (out if self.batch_first else out.transpose(0, 1)), weights

    def to_multihead(self) -> nn.MultiheadAttention:
        """The equivalent ``nn.MultiheadAttention`` (the projections must be plain Linear layers: merge first)."""
        projections = (self.q_proj, self.k_proj, self.v_proj, self.out_proj)
        if any(type(p) is not nn.Linear for p in projections):
            raise TypeError("SplitQKVAttention.to_multihead: a projection is still wrapped by an adapter; merge it "
                            "first (visadapt.adapters.merge)")
        dim, bias = self.q_proj.in_features, self.q_proj.bias is not None
        mha = nn.MultiheadAttention(dim, self.num_heads, dropout=self.dropout, bias=bias, batch_first=self.batch_first)
        with torch.no_grad():
            mha.in_proj_weight.copy_(torch.cat([p.weight for p in projections[:3]]))
            if bias:
                mha.in_proj_bias.copy_(torch.cat([p.bias for p in projections[:3]]))
            mha.out_proj.load_state_dict(self.out_proj.state_dict())
        return mha.to(self.q_proj.weight.device, self.q_proj.weight.dtype).train(self.training)


def _additive(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """A boolean mask (True = masked, the nn.MultiheadAttention convention) as an additive float mask."""
    if mask is None or mask.dtype != torch.bool:
        return None if mask is None else mask.to(dtype)
    return torch.zeros_like(mask, dtype=dtype).masked_fill(mask, float("-inf"))


def split_attention(model: nn.Module, patterns: list[str]) -> list[str]:
    """Replace every ``nn.MultiheadAttention`` matched by ``patterns`` (visadapt targeting patterns) by a
    :class:`SplitQKVAttention`; returns the replaced names. Matching nothing is an error (open_clip 4.x no longer
    uses ``nn.MultiheadAttention``: clip.md 4, trap b)."""
    names = [n for n in match_targets(model, patterns, None, where="split_attention")
             if isinstance(model.get_submodule(n), nn.MultiheadAttention)]
    if not names:
        raise ConfigError(f"split_attention: no nn.MultiheadAttention matches {patterns}")
    for name in names:
        parent, attr = get_parent(model, name)
        setattr(parent, attr, SplitQKVAttention(getattr(parent, attr)))
    return names


def fuse_attention(model: nn.Module) -> list[str]:
    """Turn every :class:`SplitQKVAttention` back into ``nn.MultiheadAttention``; returns the names."""
    names = [n for n, m in model.named_modules() if isinstance(m, SplitQKVAttention)]
    for name in names:
        parent, attr = get_parent(model, name)
        setattr(parent, attr, getattr(parent, attr).to_multihead())
    return names
