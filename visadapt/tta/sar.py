"""SAR: sharpness-aware and reliable entropy minimisation (Niu et al., ICLR 2023; tta.md 1.9)."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from visadapt.tta.base import EntropyMethod, entropy_margin, flatten_logits, softmax_entropy
from visadapt.registry import TTA_METHODS


@TTA_METHODS.register("sar")
class SAR(EntropyMethod):
    """Reliable entropy minimisation with a SAM step and model-collapse recovery.

    Per batch (rows of ``flatten_logits``):
    1. ``H = entropy(f(x))``; ``S1 = {H < E0}`` (E0 = ``e_margin`` or ``e_margin_factor * ln C``, 0.4 ln C);
       ``L1 = mean_{S1} H``; backward; SAM first step ``theta <- theta + rho * g / ||g||`` (global L2 norm
       over all trainable params, ``rho`` 0.05 = reference ``SAM`` default).
    2. ``H' = entropy(f(x))`` at the perturbed weights, restricted to ``S1``; ``S2 = {H' < E0}``;
       ``L2 = mean_{S2} H'``; backward; restore ``theta`` and step the base optimizer with that gradient.
    3. ``ema <- 0.9 ema + 0.1 L2`` (the first L2 initialises it); if ``ema < reset_constant_em`` (0.2) the
       model is reset fully (the reference hard-codes 0.2 and ignores its argument; here the argument is used,
       same default). ``reset()`` also clears the moving average.
    Empty ``S1`` skips the whole update; empty ``S2`` undoes the perturbation without a step (the reference
    back-propagates NaN in both cases). Returns the logits of the first (pre-update) forward.

    Trainable: norm affine params except modules matching ``norm_exclude`` — reference: ``layer4`` (ResNet),
    ``blocks.9``–``blocks.11`` and the final ``norm`` (ViT-B), here matched as whole dotted name segments.
    Base optimizer default SGD lr 2.5e-4 momentum 0.9 (ResNet-50, batch 64); reference ViT-B lr is
    ``0.001 / 64 * batch_size`` (mariodoebler: 0.001 for any ViT/Swin) — set it in ``optimizer``.
    """

    default_optimizer = dict(type="SGD", lr=0.00025, momentum=0.9)
    exclude = ("layer4", "blocks.9", "blocks.10", "blocks.11", "norm")

    def __init__(
        self,
        model: nn.Module,
        rho: float = 0.05,
        e_margin: float | None = None,
        e_margin_factor: float = 0.4,
        reset_constant_em: float = 0.2,
        **kwargs: Any,
    ):
        self.rho, self.e_margin, self.e_margin_factor = rho, e_margin, e_margin_factor
        self.reset_constant_em = reset_constant_em
        super().__init__(model, **kwargs)

    def reset_state(self) -> None:
        self.ema: float | None = None
        self.num_resets = getattr(self, "num_resets", 0)

    def margin(self, num_classes: int) -> float:
        return self.e_margin if self.e_margin is not None else entropy_margin(num_classes, self.e_margin_factor)

    @torch.no_grad()
    def sam_perturb(self) -> list[tuple[nn.Parameter, torch.Tensor]]:
        """theta <- theta + rho * g / ||g||; returns ``(param, value before the perturbation)`` pairs."""
        params = [p for p in self.collect_params() if p.grad is not None]
        if not params:
            return []
        grad_norm = torch.norm(torch.stack([p.grad.norm(2) for p in params]), 2)
        scale = self.rho / (grad_norm + 1e-12)
        applied = []
        for p in params:
            applied.append((p, p.detach().clone()))
            p.add_(p.grad * scale)
        return applied

    def forward_and_adapt(self, x: torch.Tensor) -> torch.Tensor:
        opt = self.optimizer
        opt.zero_grad(set_to_none=True)
        logits = self.model(x)
        flat = flatten_logits(logits)
        e0 = self.margin(flat.shape[-1])
        ent = softmax_entropy(flat, dim=-1)
        keep1 = ent.detach() < e0
        woc = self.woc_mask(x, logits)
        if woc is not None:
            keep1 = keep1 & woc
        if not bool(keep1.any()):
            return logits
        loss1 = ent[keep1].mean()
        extra = self.woc_loss(flat, keep1)
        if extra is not None:
            loss1 = loss1 + extra
        loss1.backward()
        perturbation = self.sam_perturb()
        opt.zero_grad(set_to_none=True)

        flat2 = flatten_logits(self.model(x))
        ent2 = softmax_entropy(flat2, dim=-1)[keep1]
        keep2 = ent2.detach() < e0
        stepped = False
        if bool(keep2.any()):
            loss2 = ent2[keep2].mean()
            value = float(loss2.detach())
            if not math.isnan(value):
                self.ema = value if self.ema is None else 0.9 * self.ema + 0.1 * value
            extra = self.woc_loss(flat2, None)
            if extra is not None:
                loss2 = loss2 + extra
            loss2.backward()
            stepped = True
        with torch.no_grad():
            for p, old in perturbation:
                p.copy_(old)
        if stepped:
            opt.step()
        opt.zero_grad(set_to_none=True)
        if self.ema is not None and self.ema < self.reset_constant_em:
            self.num_resets += 1
            self.reset()
        return logits
