"""The test-time adaptation base class and helpers shared by the methods.

A :class:`TTAMethod` wraps a model (images in [0, 1], normalisation inside, as every visadapt backbone) and
is itself an ``nn.Module`` whose ``forward(x)`` adapts on the batch and returns the prediction (logits) for
that same batch (online evaluation, as in the reference implementations; see ``tta.md`` 1.0).

Lifecycle (in ``__init__``): ``configure_model()`` (module modes, which parameters require grad) ->
``collect_params()`` -> ``setup_optimizer()`` -> snapshot of every tracked model copy and of the optimizer
state, so ``reset()`` is exact. Only what can change is snapshotted: trainable parameters and buffers of each
tracked copy (frozen weights are never copied).

Losses work on logits of shape ``[B, C]`` or ``[B, C, H, W]`` (per pixel): :func:`flatten_logits` moves the
class dimension last and flattens the rest, so sample selection is per image for classification and per
pixel for segmentation.
"""
from __future__ import annotations

import abc
import copy
import math
from typing import Any, Iterable, Sequence

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _BatchNorm

from visadapt.optim import build_optimizer
from visadapt.registry import ConfigError
from visadapt.tta.filters import build_filter

NORM_TYPES: tuple[type[nn.Module], ...] = (_BatchNorm, nn.LayerNorm, nn.GroupNorm)


# --------------------------------------------------------------------------------------------- losses
def flatten_logits(logits: torch.Tensor) -> torch.Tensor:
    """``[B, C]`` -> ``[B, C]``; ``[B, C, *S]`` -> ``[B * prod(S), C]`` (class dim last)."""
    if logits.dim() < 2:
        raise ValueError(f"expected logits of shape [B, C] or [B, C, H, W], got {tuple(logits.shape)}")
    if logits.dim() == 2:
        return logits
    return logits.movedim(1, -1).reshape(-1, logits.shape[1])


def softmax_entropy(logits: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Shannon entropy of ``softmax(logits)`` over the class dim ``dim`` (per sample / per pixel)."""
    return -(logits.softmax(dim) * logits.log_softmax(dim)).sum(dim)


def entropy_margin(num_classes: int, factor: float = 0.4) -> float:
    """E0 = factor * ln C (EATA/SAR reliability threshold; tta.md 1.8, 1.9)."""
    return factor * math.log(num_classes)


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
    """Mean of ``values[mask]``; None when the selection is empty (callers then skip the step)."""
    if mask is not None:
        values = values[mask]
    if values.numel() == 0:
        return None
    return values.mean()


# --------------------------------------------------------------------------------------------- model setup
def norm_layers(model: nn.Module, types: Sequence[type] = NORM_TYPES) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, tuple(types))]


def name_matches(name: str, prefixes: Iterable[str]) -> bool:
    """True when a dotted module name contains one of ``prefixes`` as whole dotted segments.

    ``'blocks.9'`` matches ``model.blocks.9.norm1`` but not ``model.blocks.19.norm1``; ``'norm'`` matches
    ``model.norm`` but not ``model.blocks.0.norm1``.
    """
    padded = f".{name}."
    return any(f".{p}." in padded for p in prefixes)


def norm_affine_params(
    model: nn.Module, types: Sequence[type] = NORM_TYPES, exclude: Iterable[str] = ()
) -> list[tuple[str, nn.Parameter]]:
    """``(qualified name, param)`` for the affine weight/bias of every norm layer (TENT's parameter set)."""
    exclude = tuple(exclude)
    out = []
    for mname, m in norm_layers(model, types):
        if exclude and name_matches(mname, exclude):
            continue
        for pname, p in m.named_parameters(recurse=False):
            if pname in ("weight", "bias"):
                out.append((f"{mname}.{pname}" if mname else pname, p))
    return out


def use_batch_statistics(model: nn.Module) -> None:
    """Delete BN running statistics so every BN normalises with the current batch, in train and eval mode
    alike (the TENT trick, tta.md 1.0): the method no longer depends on ``.train()/.eval()`` toggles."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.track_running_stats = False
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None


# --------------------------------------------------------------------------------------------- base class
class TTAMethod(nn.Module, abc.ABC):
    """Base class of every test-time adaptation method.

    Args:
        model: the model to adapt, in place (it is owned by the method from now on).
        optimizer: ``dict(type=<torch.optim class name>, **kwargs)``; None -> the method's
            ``default_optimizer``. Ignored by methods without trainable parameters.
        steps: adaptation steps per batch (the returned prediction is the one of the last step's forward).
        episodic: ``reset()`` before every batch.
        reset_every: full reset after this many adapted batches (0 = never; RDumb uses 1000 with ``eta``).

    Subclasses implement ``configure_model``/``set_modes``, optionally ``collect_params``, and
    ``forward_and_adapt(x)`` (runs with grad enabled); extra state goes into ``reset_state()``. Extra model
    copies (teacher, anchor) are registered with :meth:`track` so ``reset()`` restores them too.
    """

    default_optimizer: dict | None = None

    def __init__(
        self,
        model: nn.Module,
        optimizer: dict | None = None,
        steps: int = 1,
        episodic: bool = False,
        reset_every: int = 0,
    ):
        super().__init__()
        if steps < 1:
            raise ConfigError(f"steps must be >= 1, got {steps}")
        self.model = model
        self.steps = int(steps)
        self.episodic = bool(episodic)
        self.reset_every = int(reset_every)
        self.num_updates = 0
        self._tracked: dict[str, tuple[nn.Module, list[str] | None]] = {}
        self.configure_model()
        self.params = self.collect_params()
        optimizer = optimizer if optimizer is not None else self.default_optimizer
        self.optimizer = build_optimizer(self.params, optimizer) if self.params else None
        self.track("model", self.model)
        self.init_copies()
        self._snapshot = self._take_snapshot()
        self._optimizer_state = copy.deepcopy(self.optimizer.state_dict()) if self.optimizer is not None else None
        self.reset_state()

    # ------------------------------------------------------------------ hooks for subclasses
    def configure_model(self) -> None:
        """Set requires_grad flags and structural changes (e.g. delete BN stats); then ``set_modes()``."""
        self.model.requires_grad_(False)
        self.set_modes()

    def set_modes(self) -> None:
        """Module train/eval modes; re-applied before every batch (a runner may have called ``.eval()``)."""
        self.model.eval()

    def collect_params(self) -> list:
        """Parameters (or param-group dicts) handed to the optimizer."""
        return [p for p in self.model.parameters() if p.requires_grad]

    def init_copies(self) -> None:
        """Create and ``track`` extra model copies (teacher, anchor); called before the snapshot."""

    def reset_state(self) -> None:
        """Reset non-tensor method state (moving averages, counters)."""

    @abc.abstractmethod
    def forward_and_adapt(self, x: torch.Tensor) -> torch.Tensor:
        """One adaptation step on the batch; returns the logits it predicted from."""

    # ------------------------------------------------------------------ state tracking
    def track(self, name: str, module: nn.Module, names: Sequence[str] | None = None) -> None:
        """Register a model copy whose changing tensors ``reset()`` restores.

        ``names``: the parameter/buffer names that change; None = parameters with ``requires_grad`` plus all
        buffers (teachers updated by EMA pass their parameter names explicitly).
        """
        self._tracked[name] = (module, list(names) if names is not None else None)

    def _tracked_tensors(self, module: nn.Module, names: list[str] | None) -> dict[str, torch.Tensor]:
        tensors = dict(module.named_parameters())
        buffers = {k: v for k, v in module.named_buffers() if v is not None}
        if names is not None:
            tensors.update(buffers)
            return {k: tensors[k] for k in names}
        out = {k: p for k, p in tensors.items() if p.requires_grad}
        out.update(buffers)
        return out

    def _take_snapshot(self) -> dict[str, dict[str, torch.Tensor]]:
        return {
            name: {k: t.detach().clone() for k, t in self._tracked_tensors(m, names).items()}
            for name, (m, names) in self._tracked.items()
        }

    def source_params(self) -> dict[str, torch.Tensor]:
        """The initial values of the wrapped model's trainable parameters (names relative to ``self.model``)."""
        current = dict(self.model.named_parameters())
        return {k: v for k, v in self._snapshot["model"].items() if k in current and current[k].requires_grad}

    @torch.no_grad()
    def original_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output with its trainable parameters at their initial values (no copy of the model).

        Buffers (e.g. BN statistics) are the current ones, so with deleted BN statistics this is the
        BN-adapted source model, as in the reference filter implementation.
        """
        return functional_call(self.model, self.source_params(), (x,), strict=False)

    @torch.no_grad()
    def reset(self) -> None:
        """Restore every tracked model copy, the optimizer state and the method state exactly."""
        for name, (m, names) in self._tracked.items():
            current = self._tracked_tensors(m, names)
            for k, v in self._snapshot[name].items():
                current[k].copy_(v)
        if self.optimizer is not None:
            self.optimizer.state.clear()
            self.optimizer.load_state_dict(copy.deepcopy(self._optimizer_state))
        self.num_updates = 0
        self.reset_state()

    # ------------------------------------------------------------------ the online loop
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.optimizer is not None and torch.is_inference_mode_enabled():
            raise RuntimeError(
                f"{type(self).__name__} adapts at test time but inference mode is on; run it under "
                "torch.no_grad() at most (Lightning: Trainer(inference_mode=False))"
            )
        if self.episodic:
            self.reset()
        self.set_modes()
        out = None
        for _ in range(self.steps):
            with torch.enable_grad():
                out = self.forward_and_adapt(x)
        self.num_updates += 1
        if self.reset_every and self.num_updates >= self.reset_every:
            self.reset()
        return out.detach()

    def optimizer_step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def trainable_named_params(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]


class EntropyMethod(TTAMethod):
    """Shared setup of the entropy-minimisation family (TENT, ETA/EATA, SAR).

    Trainable: affine weight/bias of BatchNorm(1d/2d/3d), LayerNorm (incl. timm's subclasses) and GroupNorm,
    minus modules matching ``exclude`` (dotted name segments). BN running stats are deleted, so BN always
    normalises with test-batch statistics; the model is in ``eval()`` (mariodoebler's choice, avoids dropout
    and stochastic depth). ``woc`` switches on the "wisdom of crowds" filter (True or a dict of
    :class:`visadapt.tta.filters.WisdomOfCrowdsFilter` arguments).
    """

    exclude: tuple[str, ...] = ()

    def __init__(
        self, model: nn.Module, woc: bool | dict = False, norm_exclude: Sequence[str] | None = None, **kwargs: Any
    ):
        if norm_exclude is not None:
            self.exclude = tuple(norm_exclude)
        self.woc = build_filter(woc)
        super().__init__(model, **kwargs)

    def configure_model(self) -> None:
        self.model.requires_grad_(False)
        use_batch_statistics(self.model)
        for _, p in norm_affine_params(self.model, exclude=self.exclude):
            p.requires_grad_(True)
        self.set_modes()

    def collect_params(self) -> list:
        return [p for _, p in norm_affine_params(self.model, exclude=self.exclude) if p.requires_grad]

    def woc_mask(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor | None:
        """The filter's keep-mask over ``flatten_logits(logits)`` rows, or None when the filter is off."""
        if self.woc is None:
            return None
        return self.woc.mask(flatten_logits(logits.detach()), flatten_logits(self.original_forward(x)))

    def woc_loss(self, flat_logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        """The filter's extra (diversity) term, or None."""
        if self.woc is None:
            return None
        return self.woc.extra_loss(flat_logits, mask)
