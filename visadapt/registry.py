"""Plain dict registries and the ``build`` helper that turns config dicts into objects.

Registries are explicit: each package registers its own classes when it is imported and a lookup never
depends on the caller's scope. (mmengine's scope inference is a known source of "not in the registry"
errors, so only mmengine's ``Config`` is used, not its ``Registry``.)
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Callable


class ConfigError(ValueError):
    """A config value is wrong; the message names the key or value and what was expected."""


class Registry:
    """A name -> class (or factory) map with helpful errors."""

    def __init__(self, name: str):
        self.name = name
        self._entries: dict[str, Callable] = {}

    def register(self, name: str | None = None) -> Callable:
        """Decorator: ``@REGISTRY.register()`` registers under the class name, or under ``name``."""

        def deco(obj: Callable) -> Callable:
            key = name or obj.__name__
            if key in self._entries and self._entries[key] is not obj:
                raise KeyError(f"{self.name}: '{key}' is already registered to {self._entries[key]!r}")
            self._entries[key] = obj
            return obj

        return deco

    def get(self, name: str) -> Callable:
        if name not in self._entries:
            near = difflib.get_close_matches(name, self._entries, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(map(repr, near))}?" if near else ""
            raise ConfigError(
                f"{self.name}: unknown type '{name}'.{hint} Registered: {', '.join(sorted(self._entries))}"
            )
        return self._entries[name]

    def list(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def build(self, cfg: dict | Any, **extra: Any) -> Any:
        """Build ``cfg['type'](**rest, **extra)``; unknown keywords name the class and what it accepts."""
        if not isinstance(cfg, dict) or "type" not in cfg:
            raise ConfigError(f"{self.name}: expected a dict with a 'type' key, got {cfg!r}")
        kwargs = {k: v for k, v in dict(cfg).items() if k != "type"}
        kwargs.update(extra)
        factory = self.get(cfg["type"])
        check_kwargs(factory, kwargs, where=f"{self.name} '{cfg['type']}'")
        return factory(**kwargs)


def accepted_arguments(factory: Callable) -> tuple[list[str], bool]:
    """(the named arguments ``factory`` takes, whether it also takes any other name).

    A class's ``**kwargs`` (by that name) is taken to be forwarded to its base class, whose arguments are then
    followed up the MRO; any other ``**name`` (``**model_kwargs`` handed to timm, say) accepts every name.
    """
    if not inspect.isclass(factory):
        params = inspect.signature(factory).parameters.values()
        return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)], \
            any(p.kind is p.VAR_KEYWORD for p in params)
    names: list[str] = []
    for klass in factory.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = list(inspect.signature(vars(klass)["__init__"]).parameters.values())[1:]  # without self
        names += [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        var_kw = next((p for p in params if p.kind is p.VAR_KEYWORD), None)
        if var_kw is None:
            return list(dict.fromkeys(names)), False
        if var_kw.name != "kwargs":
            return list(dict.fromkeys(names)), True
    return list(dict.fromkeys(names)), True


def check_kwargs(factory: Callable, kwargs: dict, where: str) -> None:
    """Raise a ConfigError listing accepted arguments when ``kwargs`` has names ``factory`` does not take."""
    accepted, open_ended = accepted_arguments(factory)
    if open_ended:
        return
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        hints = []
        for k in unknown:
            near = difflib.get_close_matches(k, accepted, n=1, cutoff=0.6)
            hints.append(f"'{k}'" + (f" (did you mean '{near[0]}'?)" if near else ""))
        raise ConfigError(f"{where}: unknown argument(s) {', '.join(hints)}. Accepted: {', '.join(accepted)}")


BACKBONES = Registry("BACKBONES")
ADAPTERS = Registry("ADAPTERS")
TASKS = Registry("TASKS")
DATASETS = Registry("DATASETS")
TRANSFORMS = Registry("TRANSFORMS")
TTA_METHODS = Registry("TTA_METHODS")
