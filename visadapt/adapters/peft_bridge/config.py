"""``PeftConfig``: any tuner of HF PEFT that works on a plain ``nn.Module``, from a visadapt config.

The tuner maths is PEFT's; this file only chooses the modules (with visadapt's patterns and loud no-match
errors), builds PEFT's config class, injects through PEFT's functional API (``inject_adapter_in_model``; for
tuners whose layers share tensors made by the tuner object, such as VeRA, ``get_peft_model``, whose wrapper is
dropped: the layers keep references to what they share), tells visadapt which parameters are the adapter's
(structurally: the per-adapter entries of each ``BaseTunerLayer``'s ``adapter_layer_names``), and maps visadapt's
switch-off / merge / unmerge / unload steps onto PEFT's own (``enable_adapters``, ``merge``, ``unmerge``,
``get_base_layer``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import nn

from visadapt.adapters.base import AdapterConfig, register_adapter
from visadapt.adapters.peft_bridge._peft import require_peft, resolve_type, uses_shared_state
from visadapt.adapters.targeting import get_parent, match_targets
from visadapt.registry import ConfigError, check_kwargs

# PEFT config fields the bridge sets itself (from visadapt fields), so they may not appear in peft_kwargs.
RESERVED = {
    "peft_type": "use PeftConfig.peft_type",
    "target_modules": "use the visadapt field target_modules (globs or 're:' patterns)",
    "exclude_modules": "use the visadapt field exclude_modules",
    "modules_to_save": "use the visadapt field modules_to_save (visadapt trains and saves them itself)",
    "layers_to_transform": "select layers with target_modules patterns instead, e.g. 'blocks.[0-5].attn.qkv'",
    "layers_pattern": "select layers with target_modules patterns instead",
    "task_type": "not used for vision backbones",
    "inference_mode": "visadapt decides what trains (mark_trainable)",
}
# PEFT kwargs whose values are module-name patterns: visadapt patterns, resolved to explicit names.
NAME_LIST_KWARGS = ("feedforward_modules",)


@register_adapter
@dataclass
class PeftConfig(AdapterConfig):
    """An HF PEFT tuner injected with ``peft.inject_adapter_in_model``.

    Args:
        peft_type: a PEFT tuner name (``"LORA"``, ``"IA3"``, ``"BOFT"``, ``"OFT"``, ``"HRA"``, ``"LOHA"``, ...;
            case-insensitive) or ``"DORA"`` (sugar for ``"LORA"`` with ``use_dora=True``).
        peft_kwargs: keyword arguments of PEFT's config class (``r``, ``lora_alpha``, ``init_lora_weights``
            ``="pissa"``/``"olora"``, ``use_dora``, ...). ``feedforward_modules`` (IA3) takes visadapt patterns.
        adapter_name: PEFT's adapter name (the key inside each tuner layer's parameter dicts).

    ``target_modules`` / ``exclude_modules`` are visadapt patterns, resolved to an explicit list of module names
    that PEFT receives. ``modules_to_save`` stay plain modules trained and saved by visadapt.
    """

    method: ClassVar[str] = "peft"
    layer_cls: ClassVar = None
    default_targets: ClassVar[tuple[str, ...]] = ("blocks.*.attn.qkv",)

    peft_type: str = "LORA"
    peft_kwargs: dict[str, Any] = field(default_factory=dict)
    adapter_name: str = "default"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.peft_kwargs, dict):
            raise ConfigError(f"adapter 'peft': peft_kwargs must be a dict, got {self.peft_kwargs!r}")
        self.peft_kwargs = dict(self.peft_kwargs)
        self.peft_type = str(self.peft_type).upper()
        bad = {k: why for k, why in RESERVED.items() if k in self.peft_kwargs}
        if bad:
            raise ConfigError("adapter 'peft': peft_kwargs may not set " +
                              "; ".join(f"'{k}' ({why})" for k, why in bad.items()))
        self.build_peft_config(None)  # fail at config time on an unknown type or bad kwargs

    # -- PEFT config ------------------------------------------------------------------------------------------
    def build_peft_config(self, target_modules: list[str] | None, **resolved: Any):
        """PEFT's config object for ``target_modules`` (explicit names); ``resolved`` overrides peft_kwargs."""
        name, config_cls, implied = resolve_type(self.peft_type)
        kwargs = {**self.peft_kwargs, **resolved}
        for key, value in implied.items():
            if key in kwargs and kwargs[key] != value:
                raise ConfigError(f"adapter 'peft': peft_type '{self.peft_type}' implies {key}={value!r}, "
                                  f"but peft_kwargs sets {key}={kwargs[key]!r}")
            kwargs[key] = value
        if target_modules is None:  # validation only: name-list kwargs are resolved against a model later
            kwargs = {k: v for k, v in kwargs.items() if k not in NAME_LIST_KWARGS}
        where = f"adapter 'peft' (peft_type '{self.peft_type}' -> peft.{config_cls.__name__})"
        check_kwargs(config_cls, kwargs, where=where)
        try:
            return config_cls(target_modules=target_modules, **kwargs)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: PEFT rejected peft_kwargs {kwargs}: {err}") from err

    # -- behaviour --------------------------------------------------------------------------------------------
    def inject(self, model: nn.Module) -> list[str]:
        peft = require_peft()
        names = match_targets(model, self.target_modules, self.exclude_modules, where="adapter 'peft'")
        resolved = {}
        for key in NAME_LIST_KWARGS:
            if self.peft_kwargs.get(key) is not None:
                hits = match_targets(model, self.peft_kwargs[key], self.exclude_modules,
                                     where=f"adapter 'peft' {key}")
                stray = [h for h in hits if h not in names]
                if stray:
                    raise ConfigError(f"adapter 'peft': {key} must be among the target modules; not targeted: "
                                      f"{', '.join(stray[:5])}")
                resolved[key] = hits
        peft_config = self.build_peft_config(names, **resolved)
        if self.adapter_name in (getattr(model, "peft_config", None) or {}):
            raise ConfigError(f"adapter 'peft': the model already has a PEFT adapter named '{self.adapter_name}'; "
                              "give the second config another adapter_name")
        try:
            if uses_shared_state(self.peft_type):
                peft.get_peft_model(model, peft_config, adapter_name=self.adapter_name)  # modifies model in place
            else:
                peft.inject_adapter_in_model(peft_config, model, adapter_name=self.adapter_name)
        except (ValueError, TypeError, NotImplementedError, RuntimeError) as err:
            raise ConfigError(f"adapter 'peft': PEFT could not inject {self.peft_type} into {len(names)} "
                              f"module(s) ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}): {err}") from err
        layers = self.tuner_layers(model)
        for _, layer in layers:  # PEFT builds its modules in training mode; an eval model must stay in eval
            layer.train(layer.get_base_layer().training)
        wrapped = [n for n, _ in layers]
        if set(wrapped) != set(names):  # PEFT matches list entries by suffix too; insist on exactly ours
            extra = sorted(set(wrapped) - set(names))
            missing = sorted(set(names) - set(wrapped))
            raise ConfigError(f"adapter 'peft': PEFT wrapped other modules than resolved "
                              f"(unexpected {extra[:5]}, not wrapped {missing[:5]})")
        return names

    def tuner_layers(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        """(name, layer) of the PEFT tuner layers holding this config's adapter."""
        try:
            from peft.tuners.tuners_utils import BaseTunerLayer
        except ImportError:  # without peft nothing can have been injected
            return []

        return [(n, m) for n, m in model.named_modules()
                if isinstance(m, BaseTunerLayer) and self._holds_adapter(m)]

    def _holds_adapter(self, layer: nn.Module) -> bool:
        for attr in layer.adapter_layer_names:
            container = getattr(layer, attr, None)
            if isinstance(container, (nn.ModuleDict, nn.ParameterDict)) and self.adapter_name in container:
                return True
        return False

    def owned_parameters(self, model: nn.Module) -> list[str]:
        names: list[str] = []
        for mname, layer in self.tuner_layers(model):
            for attr in dict.fromkeys(layer.adapter_layer_names):  # DoRA lists one name twice
                container = getattr(layer, attr, None)
                if not isinstance(container, (nn.ModuleDict, nn.ParameterDict)) or self.adapter_name not in container:
                    continue
                item = container[self.adapter_name]
                prefix = f"{mname}.{attr}.{self.adapter_name}"
                if isinstance(item, nn.Parameter):
                    names.append(prefix)
                elif isinstance(item, nn.Module):
                    names += [f"{prefix}.{p}" for p, _ in item.named_parameters()]
        return names + [n for n in super().owned_parameters(model) if n not in names]

    def in_place_parameters(self, model: nn.Module) -> list[str]:
        """Only ``modules_to_save``: the tuner tensors live in PEFT's layers, which switch themselves off."""
        tuner = set(self.owned_parameters(model)) - set(super().owned_parameters(model))
        return [n for n in super().in_place_parameters(model) if n not in tuner]

    def set_enabled(self, model: nn.Module, enabled: bool) -> None:
        """PEFT's own switch (``BaseTunerLayer.enable_adapters``); it also sets requires_grad, so the trainable
        set is marked again when the layers come back on."""
        for _, layer in self.tuner_layers(model):
            layer.enable_adapters(enabled)
        super().set_enabled(model, enabled)
        if enabled:
            from visadapt.adapters.functional import mark_trainable

            mark_trainable(model)

    def check_mergeable(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        """This config's tuner layers; TypeError when one cannot merge (its PEFT class has no ``merge``) or holds
        other PEFT adapters, raised before anything changes."""
        from peft.tuners.tuners_utils import BaseTunerLayer

        layers = self.tuner_layers(model)
        for name, layer in layers:
            others = sorted(set(layer._get_available_adapters()) - {self.adapter_name})
            if others:
                raise TypeError(f"peft merge: {name} also holds PEFT adapters {others}; cannot unwrap it")
            if type(layer).merge is BaseTunerLayer.merge:
                raise TypeError(f"peft {self.peft_type} layers ({type(layer).__name__}) cannot be folded into "
                                "the base weights")
        return layers

    def merge(self, model: nn.Module) -> None:
        """PEFT's own ``merge`` (safe: refuses non-finite weights); PEFT refuses a second merge itself."""
        for _, layer in self.check_mergeable(model):
            if layer.merged:
                raise ConfigError(f"adapter 'peft': already merged; a second merge would add the update twice")
            layer.merge(safe_merge=True, adapter_names=[self.adapter_name])

    def unmerge(self, model: nn.Module) -> None:
        for name, layer in self.tuner_layers(model):
            if not layer.merged:
                raise ConfigError(f"adapter 'peft': layer '{name}' is not merged")
            layer.unmerge()

    def unload(self, model: nn.Module) -> None:
        """Put PEFT's base layers back (no ``base_layer`` levels, no PEFT modules), as its ``merge_and_unload``."""
        for name, layer in self.tuner_layers(model):
            parent, attr = get_parent(model, name)
            setattr(parent, attr, layer.get_base_layer())
        configs = getattr(model, "peft_config", None)
        if isinstance(configs, dict):
            configs.pop(self.adapter_name, None)
            if not configs:
                del model.peft_config
