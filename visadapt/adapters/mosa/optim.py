"""Optimiser behaviour of inactive sub-adapters (``MoSAConfig.momentum_on_inactive``).

The reference keeps N full-size copies of a split projection and multiplies their gradients by fixed masks.
What happens to a sub-adapter that was not drawn in a step depends on ``zero_grad``:

- PyTorch 1.11 (pinned by the reference; ``zero_grad()`` zeroes gradients): after its first use an inactive copy
  has a zero gradient, so AdamW decays its moments, still moves it by ``m / (sqrt(v) + eps)`` and applies weight
  decay. A single shared tensor with per-element AdamW state does exactly this (its inactive elements get zero
  gradient), so ``momentum_on_inactive=True`` needs nothing here. Remaining differences: AdamW's bias-correction
  step count is per tensor (the reference's count of a copy starts at its first use), and the frozen initial
  values W0 of a split down-projection do not decay (in the reference, weight decay also shrinks the entries of
  each copy outside its mask).
- PyTorch >= 2 (``set_to_none=True``): an inactive copy has no gradient and is skipped entirely. For
  ``momentum_on_inactive=False`` the hooks installed by :func:`attach_optimizer` reproduce this: around each
  ``optimizer.step()`` they restore the value and every parameter-shaped state tensor (``exp_avg``,
  ``exp_avg_sq``, ``max_exp_avg_sq``, ``momentum_buffer``...) of the elements whose sub-adapter was not drawn
  since the previous step (state created by this step starts at zero there). Only the per-tensor ``step`` count
  still advances.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from visadapt.adapters.mosa.layer import MoSALayer, SplitLinear


class OptimizerHooks:
    """Handles returned by :func:`attach_optimizer`; ``remove()`` detaches them."""

    def __init__(self, handles: list[Any], splits: list[SplitLinear]):
        self.handles, self.splits = handles, splits

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        for s in self.splits:
            s.optimizer_attached = False
        self.handles = []


def _split_layers(model: nn.Module) -> list[tuple[SplitLinear, bool]]:
    """(split projection, momentum_on_inactive) for every MoSA layer in ``model``."""
    out = []
    for module in model.modules():
        if isinstance(module, MoSALayer):
            out += [(s, module.config.momentum_on_inactive) for s in module.adapter.split_layers()]
    return out


def attach_optimizer(model: nn.Module, optimizer: torch.optim.Optimizer) -> OptimizerHooks:
    """Make ``optimizer`` honour ``momentum_on_inactive=False`` for the MoSA layers of ``model``.

    Also clears each split projection's record of the sub-adapters drawn since the last step after every step.
    Layers with ``momentum_on_inactive=True`` are left to the optimiser. Call once per optimiser (the
    ``MoSACallback`` does it for Lightning).
    """
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    frozen = [s for s, momentum in _split_layers(model) if not momentum
              and any(id(p) in in_optimizer for p in s.parameters())]
    all_splits = [s for s, _ in _split_layers(model)]
    snapshots: list[tuple[SplitLinear, nn.Parameter, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]] = []

    def pre_step(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        # Snapshot everything: with a closure (Lightning's automatic optimisation) the forward passes, and so the
        # draws, run inside ``step``, so which elements were inactive is only known in the post-hook.
        snapshots.clear()
        for split in frozen:
            for p, groups in split.element_groups().items():
                if id(p) in in_optimizer:
                    state = {k: v.detach().clone() for k, v in opt.state.get(p, {}).items()
                             if torch.is_tensor(v) and v.shape == p.shape}
                    snapshots.append((split, p, groups, p.detach().clone(), state))

    @torch.no_grad()
    def post_step(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        for split, p, groups, value, state in snapshots:
            active = torch.zeros(split.num, dtype=torch.bool, device=p.device)
            if split.active:
                active[list(split.active)] = True
            inactive = ~active[groups.long()]
            p.copy_(torch.where(inactive, value, p))
            for k, v in opt.state.get(p, {}).items():
                if torch.is_tensor(v) and v.shape == p.shape:
                    before = state.get(k)
                    v.copy_(torch.where(inactive, before if before is not None else torch.zeros_like(v), v))
        snapshots.clear()
        for split in all_splits:
            split.active.clear()

    handles = [optimizer.register_step_pre_hook(pre_step), optimizer.register_step_post_hook(post_step)]
    for split in frozen:
        split.optimizer_attached = True
    return OptimizerHooks(handles, frozen)
