"""Model-level MoSA operations: merge the sub-adapters, save/restore the draw counters, read the loss weight."""
from __future__ import annotations

from torch import nn

from visadapt.adapters.base import AdapterConfig
from visadapt.adapters.functional import injected_configs, mark_trainable, set_injected_configs
from visadapt.adapters.mosa.config import MoSAConfig
from visadapt.adapters.mosa.layer import MoSALayer
from visadapt.adapters.targeting import get_parent


def mosa_layers(model: nn.Module) -> dict[str, MoSALayer]:
    return {name: m for name, m in model.named_modules() if isinstance(m, MoSALayer)}


def merge_subadapters(model: nn.Module) -> nn.Module:
    """Replace every MoSA layer (in place) by the plain bottleneck adapter layer computing the averaged weights.

    Each MoSA config in the model's config list becomes its ``plain_config()`` (an ``adaptformer`` config of the
    same width, placement, norm, activation, scale and dropout), shared by the layers it produced, so marking,
    ``save_adapter``/``load_adapter`` and ``count_parameters`` then treat the model as a plain adapter model.
    (``visadapt.adapters.merge`` refuses MoSA with ``strict=True`` and leaves it alone with ``strict=False``, as it
    does for every bottleneck adapter: the result is still a module, not folded into the base weights.) The plain
    layers start in the MoSA layers' on/off state.
    """
    configs: list[AdapterConfig] = injected_configs(model)
    plain: dict[int, AdapterConfig] = {}
    for i, c in enumerate(configs):
        if isinstance(c, MoSAConfig):
            plain[id(c)] = configs[i] = c.plain_config()
    for name, layer in mosa_layers(model).items():
        cfg = plain.get(id(layer.config))
        if cfg is None:  # a layer built outside ``inject``: give it a config of its own
            cfg = plain[id(layer.config)] = layer.config.plain_config()
        parent, attr = get_parent(model, name)
        plain_layer = layer.to_plain_layer(cfg)
        plain_layer.set_enabled(layer.enabled)
        setattr(parent, attr, plain_layer)
    set_injected_configs(model, configs)
    mark_trainable(model)
    return model


def draw_state(model: nn.Module) -> dict[str, int]:
    """The draw counter of every MoSA layer, by module name (what a resumed run needs to draw the same)."""
    return {name: layer.adapter.draws for name, layer in mosa_layers(model).items()}


def load_draw_state(model: nn.Module, state: dict[str, int], strict: bool = True) -> None:
    layers = mosa_layers(model)
    if strict and set(state) != set(layers):
        missing, unexpected = sorted(set(layers) - set(state)), sorted(set(state) - set(layers))
        raise KeyError(f"mosa draw state does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, draws in state.items():
        if name in layers:
            layers[name].adapter.draws = int(draws)


def consistency_weight(model: nn.Module) -> float:
    """The weight of the two-pass symmetric-KL loss the task should add (0.0 when the model has no MoSA)."""
    return max((c.consistency_weight for c in injected_configs(model) if isinstance(c, MoSAConfig)), default=0.0)
