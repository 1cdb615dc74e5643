"""Build albumentations pipelines from config dicts such as ``dict(type='Resize', height=32, width=32)``.

Names are looked up in the project's ``TRANSFORMS`` registry first, then on the ``albumentations`` module.
Composes (``OneOf``, ``SomeOf``, ...) take their ``transforms`` as a list of such dicts.
"""
from __future__ import annotations

import difflib
import inspect
import os
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..registry import TRANSFORMS, ConfigError, check_kwargs

if TYPE_CHECKING:
    import albumentations


def _albumentations() -> ModuleType:
    """Import albumentations lazily (it takes seconds) and without its PyPI update check (no network use)."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    import albumentations

    return albumentations


def _albumentations_names(A: ModuleType) -> list[str]:
    base = (A.BasicTransform, A.BaseCompose)
    return sorted(n for n, obj in vars(A).items() if inspect.isclass(obj) and issubclass(obj, base))


def _lookup(name: Any) -> Any:
    if name in TRANSFORMS:
        return TRANSFORMS.get(name)
    A = _albumentations()
    names = _albumentations_names(A)
    if isinstance(name, str) and name in names:
        return getattr(A, name)
    near = difflib.get_close_matches(str(name), names + TRANSFORMS.list(), n=5, cutoff=0.5)
    hint = f" Close matches: {', '.join(near)}." if near else ""
    raise ConfigError(
        f"transform type '{name}' is neither in TRANSFORMS nor an albumentations transform.{hint} "
        f"Project transforms: {', '.join(TRANSFORMS.list()) or '(none)'}"
    )


def build_transform(spec: dict) -> Any:
    """One transform (or compose) from ``dict(type=Name, **kwargs)``."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise ConfigError(f"transform spec must be a dict with a 'type' key, got {spec!r}")
    name = spec["type"]
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    factory = _lookup(name)
    A = _albumentations()
    if inspect.isclass(factory) and issubclass(factory, A.BaseCompose):
        children = kwargs.get("transforms")
        if not isinstance(children, list):
            raise ConfigError(f"transform '{name}': 'transforms' must be a list of transform dicts, got {children!r}")
        kwargs["transforms"] = [build_transform(child) for child in children]
    check_kwargs(factory, kwargs, where=f"transform '{name}'")
    try:
        return factory(**kwargs)
    except (TypeError, ValueError) as err:  # pydantic's ValidationError is a ValueError
        raise ConfigError(f"transform '{name}' rejected arguments {kwargs}: {err}") from err


def build_transforms(specs: list[dict] | None) -> albumentations.Compose | None:
    """``None`` (or an empty list) means no augmentation; otherwise a ``Compose`` of the specs in order."""
    if not specs:
        return None
    if not isinstance(specs, (list, tuple)):
        raise ConfigError(f"transforms must be a list of dicts like dict(type='Resize', height=32, width=32), "
                          f"got {specs!r}")
    return _albumentations().Compose([build_transform(spec) for spec in specs])
