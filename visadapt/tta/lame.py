"""LAME: Laplacian Adjusted Maximum-likelihood Estimation (Boudiaf et al., CVPR 2022; tta.md 1.6).

Output-only: no parameter changes. Per batch, with p_i = softmax(f(x_i)), unary u_i = -log(p_i + 1e-10) and
L2-normalised penultimate features phi_i, solve
    min_Y  sum_i KL(y_i || p_i) - lambda * sum_ij w_ij y_i^T y_j
by the bound (concave-convex) fixed point  Y <- softmax(-u + lambda * W @ Y), starting from softmax(-u), for
at most ``max_steps`` iterations, stopping when the energy
    E = sum(u * Y - lambda * (W @ Y) * Y + Y * log Y)
changes by at most 1e-8 * |E_old| (checked from the third iteration on).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from visadapt.registry import TTA_METHODS, ConfigError
from visadapt.tta.base import TTAMethod


def knn_affinity(feats: torch.Tensor, k: int) -> torch.Tensor:
    """w_ij = 1 if j is among the k nearest neighbours of i (Euclidean, self excluded); not symmetric."""
    n = feats.shape[0]
    dist = torch.cdist(feats, feats)
    dist.fill_diagonal_(float("inf"))
    k = min(k, n - 1)
    w = torch.zeros_like(dist)
    if k > 0:
        w.scatter_(1, dist.topk(k, dim=-1, largest=False).indices, 1.0)
    return w


def rbf_affinity(feats: torch.Tensor, k: int, sigma: float | None = None) -> torch.Tensor:
    """w_ij = exp(-||phi_i - phi_j||^2 / (2 sigma^2)); dense, diagonal 1.

    ``sigma=None``: the reference's data-driven value, the mean over i of the distance to the k-th nearest
    point *counting i itself* (i.e. the (k-1)-th other point).
    """
    dist = torch.cdist(feats, feats)
    if sigma is None:
        k = min(k, feats.shape[0])
        sigma = dist.topk(k, dim=-1, largest=False).values[:, -1].mean()
    return torch.exp(-dist**2 / (2 * sigma**2))


def linear_affinity(feats: torch.Tensor) -> torch.Tensor:
    return feats @ feats.t()


def entropy_energy(y: torch.Tensor, unary: torch.Tensor, kernel: torch.Tensor, bound_lambda: float) -> torch.Tensor:
    pairwise = kernel @ y
    return (unary * y - bound_lambda * pairwise * y + y * torch.log(y.clamp_min(1e-20))).sum()


def laplacian_optimization(
    unary: torch.Tensor, kernel: torch.Tensor, bound_lambda: float = 1.0, max_steps: int = 100
) -> torch.Tensor:
    y = (-unary).softmax(-1)
    e_old = None
    for i in range(max_steps):
        y = (-unary + bound_lambda * (kernel @ y)).softmax(-1)
        e = entropy_energy(y, unary, kernel, bound_lambda)
        if i > 1 and e_old is not None and (e - e_old).abs() <= 1e-8 * e_old.abs():
            break
        e_old = e
    return y


@TTA_METHODS.register("lame")
class LAME(TTAMethod):
    """Laplacian-regularised correction of the model's outputs; ``forward`` returns ``log Y`` (log-probabilities,
    usable as logits).

    Defaults (``fiveai/LAME`` ``src/config/defaults.py``): ``affinity='rbf'``, ``knn=5``, ``force_symmetry=False``,
    ``bound_lambda=1``, ``max_steps=100``. Reference ``LAME_SIGMA=1.0`` is ignored by its rbf affinity (sigma
    is data-driven): ``faithful=True`` reproduces that (``sigma`` ignored); the default (``faithful=False``)
    honours an explicit ``sigma`` and uses the data-driven value when ``sigma=None`` (the default here).

    Features: ``features_fn(x) -> [B, D]`` and ``head_fn(feats) -> logits``; by default, for a visadapt
    backbone, ``model.forward_features`` and the upstream model's classifier (``get_classifier()``), so one
    forward gives both; otherwise ``model.forward_features(x)`` and ``model(x)``. Classification only.
    The model is in ``eval()`` with its source BN statistics; nothing is trained; stateless across batches.
    """

    def __init__(
        self,
        model: nn.Module,
        affinity: str = "rbf",
        knn: int = 5,
        sigma: float | None = None,
        force_symmetry: bool = False,
        bound_lambda: float = 1.0,
        max_steps: int = 100,
        faithful: bool = False,
        features_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        head_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        **kwargs: Any,
    ):
        if affinity not in ("knn", "rbf", "linear"):
            raise ConfigError(f"lame: affinity must be 'knn', 'rbf' or 'linear', got {affinity!r}")
        self.affinity, self.knn, self.sigma = affinity, int(knn), sigma
        self.force_symmetry, self.bound_lambda, self.max_steps = force_symmetry, bound_lambda, int(max_steps)
        self.faithful = faithful
        self.features_fn, self.head_fn = features_fn, head_fn
        super().__init__(model, **kwargs)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.features_fn is not None:
            feats = self.features_fn(x)
            return feats, (self.head_fn(feats) if self.head_fn is not None else self.model(x))
        if not hasattr(self.model, "forward_features"):
            raise ConfigError("lame: the model has no forward_features; pass features_fn (and head_fn)")
        feats = self.model.forward_features(x)
        upstream = getattr(self.model, "model", None)
        head = upstream.get_classifier() if hasattr(upstream, "get_classifier") else None
        return feats, (head(feats) if head is not None else self.model(x))

    def kernel(self, feats: torch.Tensor) -> torch.Tensor:
        if self.affinity == "knn":
            w = knn_affinity(feats, self.knn)
        elif self.affinity == "rbf":
            w = rbf_affinity(feats, self.knn, None if self.faithful else self.sigma)
        else:
            w = linear_affinity(feats)
        if self.force_symmetry:
            w = 0.5 * (w + w.t())
        return w

    @torch.no_grad()
    def adjust(self, logits: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """Probabilities Y for ``[B, C]`` logits and ``[B, D]`` features."""
        probs = logits.float().softmax(-1)
        unary = -torch.log(probs + 1e-10)
        feats = F.normalize(feats.float().flatten(1), p=2, dim=-1)
        return laplacian_optimization(unary, self.kernel(feats), self.bound_lambda, self.max_steps)

    @torch.no_grad()
    def forward_and_adapt(self, x: torch.Tensor) -> torch.Tensor:
        feats, logits = self.features_and_logits(x)
        if logits.dim() != 2:
            raise ConfigError("lame: classification logits [B, C] expected")
        return torch.log(self.adjust(logits, feats).clamp_min(1e-30)).to(logits.dtype)
