"""The consistency regulariser of MoSA's training: two stochastic passes tied by a symmetric KL (R-Drop style)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def symmetric_kl(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """``0.5 * (KL(sg(p_b) || p_a) + KL(sg(p_a) || p_b))`` over the last dim, summed over classes, mean over rows.

    ``p = softmax(logits)`` in float32; ``sg`` stops the gradient on the target side, so each pass is pulled
    towards the other's (fixed) prediction and both receive a gradient, as the reference's
    ``symmetric_KL_loss`` (``F.kl_div(..., reduction='batchmean')`` on detached targets).
    """
    if logits_a.shape != logits_b.shape:
        raise ValueError(f"symmetric_kl: logits shapes differ: {tuple(logits_a.shape)} vs {tuple(logits_b.shape)}")
    log_a = F.log_softmax(logits_a.float(), dim=-1)
    log_b = F.log_softmax(logits_b.float(), dim=-1)
    rows = log_a.reshape(-1, log_a.shape[-1]).shape[0]
    # KL(q || p) = sum q (log q - log p), with q detached.
    kl_ba = (log_b.detach().exp() * (log_b.detach() - log_a)).sum()
    kl_ab = (log_a.detach().exp() * (log_a.detach() - log_b)).sum()
    return 0.5 * (kl_ba + kl_ab) / max(rows, 1)
