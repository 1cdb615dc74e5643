"""Methods that add no layers and only choose which existing parameters train: BitFit, linear probe, full, and
any named parameters (ProLIP's ``visual.proj``; an empty list freezes everything, e.g. for zero-shot)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from torch import nn

from visadapt.adapters.base import AdapterConfig, register_adapter
from visadapt.adapters.targeting import matches_any
from visadapt.registry import ConfigError


@register_adapter
@dataclass
class LinearProbeConfig(AdapterConfig):
    """Only ``modules_to_save`` (the new head) trains."""

    method: ClassVar[str] = "linear_probe"


@register_adapter
@dataclass
class BitFitConfig(AdapterConfig):
    """Every bias term of the targeted modules (all modules by default, LayerNorm biases included, as in VPT's
    "tinytl-bias"), plus ``modules_to_save`` (Ben Zaken et al. 2022, arXiv:2106.10199)."""

    method: ClassVar[str] = "bitfit"
    default_targets: ClassVar[tuple[str, ...]] = ("*",)

    def owned_parameters(self, model: nn.Module) -> list[str]:
        biases = [
            n for n, _ in model.named_parameters()
            if n.endswith(".bias")
            and matches_any(n.rpartition(".")[0], self.target_modules)
            and not matches_any(n.rpartition(".")[0], self.exclude_modules)
        ]
        return biases + [n for n in super().owned_parameters(model) if n not in biases]


@register_adapter
@dataclass
class ParametersConfig(AdapterConfig):
    """The parameters whose names match ``parameters`` (patterns like ``visual.proj`` or ``*.norm.weight``),
    plus ``modules_to_save``. Each pattern must match at least one parameter."""

    method: ClassVar[str] = "parameters"
    parameters: list[str] = field(default_factory=list)

    def owned_parameters(self, model: nn.Module) -> list[str]:
        names = [n for n, _ in model.named_parameters()]
        for pattern in self.parameters:
            if not any(matches_any(n, [pattern]) for n in names):
                raise ConfigError(f"adapter 'parameters': no parameter of the model matches '{pattern}'")
        owned = [n for n in names if matches_any(n, self.parameters)]
        return owned + [n for n in super().owned_parameters(model) if n not in owned]


@register_adapter
@dataclass
class FullFinetuneConfig(AdapterConfig):
    """Every parameter trains (the reference point of every PEFT table)."""

    method: ClassVar[str] = "full"

    def owned_parameters(self, model: nn.Module) -> list[str]:
        return [n for n, _ in model.named_parameters()]

    def owned_buffers(self, model: nn.Module) -> list[str]:
        """Every persistent buffer too: a model trained from scratch has no base checkpoint to take them from
        (SAM's random positional-encoding matrix, say)."""
        params = {n for n, _ in model.named_parameters()}
        return [n for n in model.state_dict() if n not in params]


__all__ = ["BitFitConfig", "FullFinetuneConfig", "LinearProbeConfig", "ParametersConfig"]
