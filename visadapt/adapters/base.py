"""The pieces every adaptation method shares: its config dataclass and its layer base class (contract v2).

A method is one registered ``AdapterConfig`` subclass. Injecting it wraps each targeted module in the
method's ``AdapterLayer``, which keeps the original module as ``base_layer`` and never edits it until an
explicit merge. Methods without layers (BitFit, linear probe, full fine-tuning) only choose parameters.

Every layer can be switched off (it then returns exactly its base layer's output), a mergeable layer folds its
update into the innermost base weight and ``unmerge()``\\s it back, and a layer may read per-call values that are
not arguments of the module it wraps (``call_context``, set with ``visadapt.adapters.call_context``).

Stacking rule: a module already wrapped by an adapter layer may be wrapped again only when both layer classes
are ``stackable``; the new layer is the outer one, each method's tensors stay under its own wrapper (so save,
load and merge keep them apart), and merging folds every layer into the innermost base layer, innermost first.
"""
from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator

import torch
from torch import nn

from visadapt.adapters.targeting import as_patterns, get_parent, match_targets
from visadapt.registry import ADAPTERS, ConfigError, check_kwargs

if TYPE_CHECKING:
    import lightning as L


class CallContext(dict):
    """Per-call values shared by all adapter layers of one model (SimDA's frame count, say); set through
    ``visadapt.adapters.call_context(model, ...)``, read by a layer as ``self.call_context[key]``."""


class AdapterLayer(nn.Module, abc.ABC):
    """Wraps ``base_layer``; ``adapter_param_names`` lists the sub-modules/parameters that hold its weights.

    Subclasses implement ``adapted_forward`` (and, when ``mergeable``, ``delta_fold``); ``forward`` runs the base
    layer alone while the layer is disabled or merged.
    """

    adapter_param_names: ClassVar[tuple[str, ...]] = ()
    mergeable: ClassVar[bool] = False
    stackable: ClassVar[bool] = True

    def __init__(self, base_layer: nn.Module, config: "AdapterConfig"):
        super().__init__()
        self.base_layer = base_layer
        self.config = config
        self.enabled = True
        self.merged = False
        self.call_context: CallContext = CallContext()

    # -- forward ----------------------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not self.enabled or self.merged:
            return self.base_layer(*args, **kwargs)
        return self.adapted_forward(*args, **kwargs)

    @abc.abstractmethod
    def adapted_forward(self, *args: Any, **kwargs: Any) -> Any:
        """The layer's output with its adapter applied."""

    # -- structure --------------------------------------------------------------------------------------------
    def get_base_layer(self) -> nn.Module:
        """The innermost wrapped module (through stacked adapter layers)."""
        base = self.base_layer
        while isinstance(base, AdapterLayer):
            base = base.base_layer
        return base

    def adapter_named_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        for attr in self.adapter_param_names:
            value = getattr(self, attr)
            if isinstance(value, nn.Parameter):
                yield attr, value
            elif value is not None:
                for name, p in value.named_parameters():
                    yield f"{attr}.{name}", p

    # -- switching off ----------------------------------------------------------------------------------------
    def set_enabled(self, enabled: bool) -> None:
        if not enabled and self.merged:
            raise ConfigError(f"{self.config.method}: cannot switch off a merged layer; unmerge it first")
        self.enabled = bool(enabled)

    # -- merging ----------------------------------------------------------------------------------------------
    def merge(self) -> None:
        """Fold the update into the innermost base layer, in place (the wrapper stays, so ``unmerge`` can undo)."""
        if not self.mergeable:
            raise TypeError(f"{type(self).__name__} ({self.config.method}) cannot be folded into its base layer")
        if self.merged:
            raise ConfigError(f"{self.config.method}: this layer is already merged; a second merge would add the "
                              "update twice")
        if isinstance(self.base_layer, AdapterLayer) and not self.base_layer.merged and not self.additive:
            raise ConfigError(f"{self.config.method}: merge the layers inside this one first (innermost first)")
        with torch.no_grad():
            self.delta_fold(+1)
        self.merged = True

    def unmerge(self) -> None:
        """Take the folded update back out of the base weights (exact up to one rounding of the merged values)."""
        if not self.merged:
            raise ConfigError(f"{self.config.method}: this layer is not merged")
        with torch.no_grad():
            self.delta_fold(-1)
        self.merged = False

    #: an additive update (LoRA) may fold in before the layers it wraps; a multiplicative one (SSF) may not
    additive: ClassVar[bool] = False

    def delta_fold(self, sign: int) -> None:
        """Add (``sign`` = +1) or remove (-1) this layer's update in the innermost base layer's weights; layers that
        declare ``mergeable`` implement it."""
        raise TypeError(f"{type(self).__name__} ({self.config.method}) declares no way to fold its update")

    def extra_repr(self) -> str:
        state = "" if self.enabled else ", disabled"
        return f"method={self.config.method}{', merged' if self.merged else ''}{state}"


@dataclass
class AdapterConfig:
    """Fields common to all methods. Subclasses set ``method`` and ``layer_cls``.

    ``modules_to_save`` are trained and saved in full (e.g. a new classification head). Parameters a method
    trains in place (BitFit's biases, a new head, full fine-tuning) keep their values from injection time, so
    that switching the method off gives back the model it was injected into.
    """

    method: ClassVar[str] = ""
    layer_cls: ClassVar[type[AdapterLayer] | None] = None
    default_targets: ClassVar[tuple[str, ...]] = ()
    #: whether ``merge`` leaves the upstream model (folded into the base weights, or nothing to fold)
    mergeable: ClassVar[bool] = True

    target_modules: list[str] | str | None = None
    exclude_modules: list[str] | str | None = None
    modules_to_save: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.target_modules is None:
            self.target_modules = list(self.default_targets)
        self.target_modules = as_patterns(self.target_modules)
        self.modules_to_save = as_patterns(self.modules_to_save)
        self._base_values: dict[str, torch.Tensor] = {}

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

    # -- injection --------------------------------------------------------------------------------------------
    def inject(self, model: nn.Module) -> list[str]:
        """Wrap each targeted module in a layer (``build_layer``); returns the wrapped names."""
        if self.layer_cls is None:
            return []
        names = self.select_targets(model, match_targets(model, self.target_modules, self.exclude_modules,
                                                         where=f"adapter '{self.method}'"))
        for index, name in enumerate(names):
            wrap_module(model, name, lambda module: self.build_layer(module, name, index), self.method)
        return names

    def select_targets(self, model: nn.Module, names: list[str]) -> list[str]:
        """The matched module names this method wraps (methods that skip or order some override this)."""
        return names

    def build_layer(self, module: nn.Module, name: str, index: int) -> AdapterLayer:
        """The layer wrapping ``module`` (the ``index``-th target, named ``name``)."""
        return self.layer_cls(module, self)

    # -- what the method owns ---------------------------------------------------------------------------------
    def layers(self, model: nn.Module) -> list[tuple[str, AdapterLayer]]:
        """(name, layer) of this config's layers, outermost before the layers they wrap."""
        return [(n, m) for n, m in model.named_modules() if isinstance(m, AdapterLayer) and m.config is self]

    def owned_parameters(self, model: nn.Module) -> list[str]:
        """Names (as in ``model.named_parameters()``) of the parameters this method trains and saves."""
        names = [f"{mname}.{p}" for mname, layer in self.layers(model) for p, _ in layer.adapter_named_parameters()]
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

    def in_place_parameters(self, model: nn.Module) -> list[str]:
        """The owned parameters that are the model's own (trained in place), not held by an adapter layer."""
        in_layers = {f"{n}.{p}" for n, layer in self.layers(model) for p, _ in layer.adapter_named_parameters()}
        return [n for n in self.owned_parameters(model) if n not in in_layers]

    def record_base_values(self, model: nn.Module) -> None:
        """Keep the injection-time values of the tensors trained in place (what switching off restores)."""
        tensors = {**dict(model.named_parameters()), **dict(model.named_buffers())}
        names = self.in_place_parameters(model) + self.owned_buffers(model)
        self._base_values = {n: tensors[n].detach().clone() for n in names}

    # -- switching off, merging -------------------------------------------------------------------------------
    def set_enabled(self, model: nn.Module, enabled: bool) -> None:
        """Switch this method on or off: its layers pass through, its in-place parameters swap with their values
        from injection time. Idempotent."""
        for _, layer in self.layers(model):
            layer.set_enabled(enabled)
        enabled_now = getattr(self, "_enabled", True)
        if enabled_now != enabled and self._base_values:
            tensors = {**dict(model.named_parameters()), **dict(model.named_buffers())}
            with torch.no_grad():
                for name, saved in self._base_values.items():
                    tensor = tensors[name]
                    current = tensor.detach().clone()
                    tensor.copy_(saved.to(tensor.device, tensor.dtype))
                    self._base_values[name] = current
        self._enabled = enabled

    def is_enabled(self) -> bool:
        return getattr(self, "_enabled", True)

    def merge(self, model: nn.Module) -> None:
        """Fold this method's layers into the base weights, innermost first (the wrappers stay until unload)."""
        if not self.mergeable:
            raise TypeError(f"adapter '{self.method}' cannot be folded into the base weights; it stays a module")
        if not self.is_enabled():
            raise ConfigError(f"adapter '{self.method}': switched off; switch it on before merging")
        for _, layer in reversed(self.layers(model)):
            layer.merge()

    def unmerge(self, model: nn.Module) -> None:
        for _, layer in self.layers(model):
            layer.unmerge()

    def unload(self, model: nn.Module) -> None:
        """Replace every (merged) layer of this method by the module it wraps, leaving the upstream tree."""
        for name, layer in self.layers(model):
            if not layer.merged:
                raise ConfigError(f"adapter '{self.method}': layer '{name}' is not merged; merge before unloading")
            parent, attr = get_parent(model, name)
            setattr(parent, attr, layer.base_layer)

    # -- what the method adds to training ----------------------------------------------------------------------
    def training_callbacks(self) -> list["L.Callback"]:
        """Lightning callbacks a training run of this method needs (none by default)."""
        return []

    def loss_terms(self, forward: Callable[[Any], torch.Tensor], inputs: Any,
                   outputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named terms this method adds to the training loss, given the task's forward, its inputs and outputs."""
        return {}


def wrap_module(model: nn.Module, name: str, build: Callable[[nn.Module], AdapterLayer], method: str) -> AdapterLayer:
    """Put ``build(module)`` in the place of module ``name`` (the one injection step every method shares): the new
    layer starts in the module's train/eval mode, and an already wrapped module is wrapped again only when both
    layers stack (see the module docstring)."""
    parent, attr = get_parent(model, name)
    module = getattr(parent, attr)
    if isinstance(module, AdapterLayer) and not module.stackable:
        raise ConfigError(f"adapter '{method}': module '{name}' is wrapped by a {module.config.method} layer, which "
                          "does not stack with other methods")
    layer = build(module)
    if isinstance(module, AdapterLayer) and not layer.stackable:
        raise ConfigError(f"adapter '{method}': module '{name}' already wraps a {module.config.method}; "
                          f"{method} layers do not stack on other methods")
    setattr(parent, attr, layer.train(module.training))  # an eval model must not turn on dropout
    return layer


def register_adapter(cls: type[AdapterConfig]) -> type[AdapterConfig]:
    """Register a config class under its ``method`` name, checking its fields at build time."""
    if not cls.method:
        raise TypeError(f"{cls.__name__} must set a 'method' name")
    ADAPTERS.register(cls.method)(cls)
    return cls


__all__ = ["AdapterConfig", "AdapterLayer", "CallContext", "check_kwargs", "register_adapter", "wrap_module"]
