"""The pieces every adaptation method shares: its config dataclass and its layer base class.

A method is one registered ``AdapterConfig`` subclass. Injecting it wraps each targeted module in the
method's ``AdapterLayer``, which keeps the original module as ``base_layer`` and never edits it until an
explicit merge. Methods without layers (BitFit, linear probe, full fine-tuning) only choose parameters.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator

from torch import nn

from visadapt.adapters.targeting import as_patterns, get_parent, match_targets
from visadapt.registry import ADAPTERS, ConfigError, check_kwargs


class AdapterLayer(nn.Module):
    """Wraps ``base_layer``; ``adapter_param_names`` lists the sub-modules/parameters that hold its weights."""

    adapter_param_names: ClassVar[tuple[str, ...]] = ()
    mergeable: ClassVar[bool] = False

    def __init__(self, base_layer: nn.Module, config: "AdapterConfig"):
        super().__init__()
        self.base_layer = base_layer
        self.config = config

    def adapter_named_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        for attr in self.adapter_param_names:
            value = getattr(self, attr)
            if isinstance(value, nn.Parameter):
                yield attr, value
            else:
                for name, p in value.named_parameters():
                    yield f"{attr}.{name}", p

    def merge(self) -> nn.Module:
        """Fold the adapter into the base layer and return the module that replaces this wrapper."""
        raise TypeError(f"{type(self).__name__} cannot be merged into its base layer")

    def extra_repr(self) -> str:
        return f"method={self.config.method}"


@dataclass
class AdapterConfig:
    """Fields common to all methods. Subclasses set ``method`` and ``layer_cls``.

    ``modules_to_save`` are trained and saved in full (e.g. a new classification head).
    """

    method: ClassVar[str] = ""
    layer_cls: ClassVar[type[AdapterLayer] | None] = None
    default_targets: ClassVar[tuple[str, ...]] = ()

    target_modules: list[str] | str | None = None
    exclude_modules: list[str] | str | None = None
    modules_to_save: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.target_modules is None:
            self.target_modules = list(self.default_targets)
        self.target_modules = as_patterns(self.target_modules)
        self.modules_to_save = as_patterns(self.modules_to_save)

    # -- serialisation ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"type": self.method, **dataclasses.asdict(self)}

    @staticmethod
    def from_dict(cfg: dict[str, Any] | "AdapterConfig") -> "AdapterConfig":
        if isinstance(cfg, AdapterConfig):
            return cfg
        if not isinstance(cfg, dict) or "type" not in cfg:
            raise ConfigError(f"adapter: expected a dict with a 'type' key (one of {ADAPTERS.list()}), got {cfg!r}")
        return ADAPTERS.build(cfg)

    # -- behaviour --------------------------------------------------------------------------------------------
    def inject(self, model: nn.Module) -> list[str]:
        """Wrap each targeted module in ``layer_cls``; returns the wrapped names."""
        if self.layer_cls is None:
            return []
        names = match_targets(model, self.target_modules, self.exclude_modules, where=f"adapter '{self.method}'")
        for name in names:
            parent, attr = get_parent(model, name)
            module = getattr(parent, attr)
            if isinstance(module, AdapterLayer):
                raise ConfigError(f"adapter '{self.method}': module '{name}' already wraps a {module.config.method}")
            # A new layer starts in the mode of the module it wraps (an eval model must not turn on dropout).
            setattr(parent, attr, self.layer_cls(module, self).train(module.training))
        return names

    def owned_parameters(self, model: nn.Module) -> list[str]:
        """Names (as in ``model.named_parameters()``) of the parameters this method trains and saves."""
        names = []
        for mname, module in model.named_modules():
            if isinstance(module, AdapterLayer) and module.config is self:
                names += [f"{mname}.{p}" for p, _ in module.adapter_named_parameters()]
        for mname in self.modules_to_save:
            try:
                module = model.get_submodule(mname)
            except AttributeError as err:
                raise ConfigError(f"adapter '{self.method}': modules_to_save entry '{mname}' is not a module") from err
            names += [f"{mname}.{p}" for p, _ in module.named_parameters()]
        return names

    def owned_buffers(self, model: nn.Module) -> list[str]:
        """Persistent buffers this method saves with its parameters: none, since they come with the base
        weights; a method that owns the whole model overrides this."""
        return []


def register_adapter(cls: type[AdapterConfig]) -> type[AdapterConfig]:
    """Register a config class under its ``method`` name, checking its fields at build time."""
    if not cls.method:
        raise TypeError(f"{cls.__name__} must set a 'method' name")
    ADAPTERS.register(cls.method)(cls)
    return cls


__all__ = ["AdapterConfig", "AdapterLayer", "check_kwargs", "register_adapter"]
