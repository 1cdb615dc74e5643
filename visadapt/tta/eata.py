"""ETA and EATA: efficient anti-forgetting test-time adaptation (Niu et al., ICML 2022; tta.md 1.8)."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from visadapt.registry import TTA_METHODS, ConfigError
from visadapt.tta.base import EntropyMethod, entropy_margin, flatten_logits, softmax_entropy


def eata_selection(
    flat_logits: torch.Tensor,
    e_margin: float,
    d_margin: float,
    model_probs: torch.Tensor | None,
    extra_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EATA's sample selection on ``[N, C]`` logits.

    Returns ``(entropy [N], keep mask [N], weights [N])``: reliable (``H < e_margin``), and — once a moving
    average ``model_probs`` exists — non-redundant (``|cos(model_probs, p_i)| < d_margin``); weights
    ``1 / exp(H - e_margin)`` (detached). ``extra_mask`` (e.g. the wisdom-of-crowds filter) is and-ed with the
    reliability mask before the redundancy test.
    """
    ent = softmax_entropy(flat_logits, dim=-1)
    keep = ent.detach() < e_margin
    if extra_mask is not None:
        keep = keep & extra_mask
    if model_probs is not None:
        probs = flat_logits.detach().softmax(-1)
        cos = F.cosine_similarity(model_probs[None, :], probs, dim=-1)
        keep = keep & (cos.abs() < d_margin)
    weights = torch.exp(-(ent.detach() - e_margin))
    return ent, keep, weights


def update_model_probs(model_probs: torch.Tensor | None, probs: torch.Tensor) -> torch.Tensor | None:
    """m <- 0.9 m + 0.1 mean(p_selected); the first non-empty selection initialises m; empty keeps m."""
    if probs.shape[0] == 0:
        return model_probs
    mean = probs.detach().mean(0)
    return mean if model_probs is None else 0.9 * model_probs + 0.1 * mean


def _batch_images(batch: Any) -> torch.Tensor:
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, dict):
        for key in ("image", "images", "x", "inputs"):
            if key in batch:
                return batch[key]
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0]
    raise ConfigError(f"eata: cannot find images in a Fisher batch of type {type(batch).__name__}")


@TTA_METHODS.register("eata")
class EATA(EntropyMethod):
    """Reliable, non-redundant, re-weighted entropy minimisation, plus (EATA) a Fisher anti-forgetting term.

    Per batch (rows of ``flatten_logits``: samples, or pixels for segmentation):
    1. ``S1 = {H < E0}``, ``E0 = e_margin`` or ``e_margin_factor * ln C`` (0.4 ln C, EATA ``main.py``
       ``--e_margin``; the class default ``ln(1000)/2 - 1`` of the reference is *not* used);
    2. after the first selection: ``S2 = {i in S1 : |cos(m, p_i)| < d_margin}``, ``m <- 0.9 m + 0.1 mean(p_S2)``;
    3. ``L = mean_{S2} exp(-(H - E0)) * H`` (+ ``fisher_alpha * sum F (theta - theta0)^2``);
    4. the step is skipped when ``S2`` is empty (no NaN).
    Returns the pre-update logits.

    Defaults (ImageNet, EATA ``main.py``): SGD lr 2.5e-4 momentum 0.9, ``d_margin`` 0.05, ``fisher_alpha``
    2000, ``fisher_size`` 2000 (500 enough per author, EATA#3). mariodoebler CIFAR10-C: Adam 1e-3,
    ``d_margin`` 0.4, ``fisher_alpha`` 1.

    Fisher: ``fisher`` (dict param name -> tensor, names relative to the model) or ``fisher_data`` — an
    iterable of batches (a DataLoader; tensors, ``(x, y)`` tuples or dicts with ``'image'``) or a callable
    returning one — from which F is the mean over batches of the squared gradient of the cross-entropy to
    the model's own pseudo-labels, over at most ``fisher_size`` samples, computed once at construction with
    the configured model (needs source / held-out data; EATA#3, CCC#5). With ``fisher_alpha > 0`` and no
    Fisher given, EATA raises a ConfigError.
    """

    default_optimizer = dict(type="SGD", lr=0.00025, momentum=0.9)
    uses_fisher = True
    source_data_argument = "fisher_data"  # what a TTA config's ``source_data`` feeds

    def __init__(
        self,
        model: nn.Module,
        e_margin: float | None = None,
        e_margin_factor: float = 0.4,
        d_margin: float = 0.05,
        fisher_alpha: float = 2000.0,
        fisher: dict[str, torch.Tensor] | None = None,
        fisher_data: Iterable | Callable[[], Iterable] | None = None,
        fisher_size: int = 2000,
        **kwargs: Any,
    ):
        self.e_margin, self.e_margin_factor, self.d_margin = e_margin, e_margin_factor, d_margin
        self.fisher_alpha = float(fisher_alpha) if self.uses_fisher else 0.0
        super().__init__(model, **kwargs)
        self.fishers: dict[str, torch.Tensor] | None = None
        if self.fisher_alpha > 0:
            if fisher is not None:
                self.fishers = {k: v.detach().clone() for k, v in fisher.items()}
            elif fisher_data is not None:
                self.fishers = self.compute_fisher(fisher_data() if callable(fisher_data) else fisher_data, fisher_size)
            else:
                raise ConfigError(
                    "eata: fisher_alpha > 0 needs `fisher` or `fisher_data` (use type='eta' to drop the term)"
                )
            names = {n for n, _ in self.trainable_named_params()}
            unknown = set(self.fishers) - names
            if unknown:
                raise ConfigError(f"eata: Fisher entries for non-trainable parameters: {sorted(unknown)[:5]}")

    def reset_state(self) -> None:
        self.model_probs: torch.Tensor | None = None
        self.num_selected = 0

    def compute_fisher(self, data: Iterable, fisher_size: int) -> dict[str, torch.Tensor]:
        named = self.trainable_named_params()
        sums = {n: torch.zeros_like(p) for n, p in named}
        seen = batches = 0
        device = next(iter(p for _, p in named)).device
        with torch.enable_grad():
            for batch in data:
                if seen >= fisher_size:
                    break
                x = _batch_images(batch).to(device)[: fisher_size - seen]
                logits = flatten_logits(self.model(x))
                loss = F.cross_entropy(logits, logits.detach().argmax(-1))
                self.model.zero_grad(set_to_none=True)
                loss.backward()
                for n, p in named:
                    if p.grad is not None:
                        sums[n] += p.grad.detach() ** 2
                seen += x.shape[0]
                batches += 1
        self.model.zero_grad(set_to_none=True)
        if batches == 0:
            raise ConfigError("eata: fisher_data yielded no batches")
        return {n: s / batches for n, s in sums.items()}

    def margin(self, num_classes: int) -> float:
        return self.e_margin if self.e_margin is not None else entropy_margin(num_classes, self.e_margin_factor)

    def forward_and_adapt(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        flat = flatten_logits(logits)
        e0 = self.margin(flat.shape[-1])
        ent, keep, weights = eata_selection(flat, e0, self.d_margin, self.model_probs, self.woc_mask(x, logits))
        self.model_probs = update_model_probs(self.model_probs, flat.detach().softmax(-1)[keep])
        self.num_selected = int(keep.sum())
        if self.num_selected == 0:
            return logits
        loss = (weights[keep] * ent[keep]).mean()
        extra = self.woc_loss(flat, keep)
        if extra is not None:
            loss = loss + extra
        if self.fishers is not None:
            source = self.source_params()
            reg = sum(
                (self.fishers[n] * (p - source[n]) ** 2).sum()
                for n, p in self.trainable_named_params()
                if n in self.fishers
            )
            loss = loss + self.fisher_alpha * reg
        self.optimizer_step(loss)
        return logits


@TTA_METHODS.register("eta")
class ETA(EATA):
    """EATA without the Fisher regulariser (``fisher_alpha = 0``; tta.md 1.8). RDumb = ``eta`` with
    ``reset_every=1000``."""

    uses_fisher = False
    source_data_argument = None

    def __init__(self, model: nn.Module, **kwargs: Any):
        for key in ("fisher_alpha", "fisher", "fisher_data", "fisher_size"):
            if key in kwargs:
                raise ConfigError(f"eta: '{key}' is an EATA option (use type='eata')")
        super().__init__(model, **kwargs)
