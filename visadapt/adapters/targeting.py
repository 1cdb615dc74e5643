"""Finding the modules an adapter targets, by module-name pattern, failing loudly when nothing matches.

A pattern is an ``fnmatch`` glob over dotted module names (``blocks.*.attn.qkv``; ``*`` may span dots), or
a regular expression written ``re:<regex>`` (full match). ``exclude`` always wins.
"""
from __future__ import annotations

import difflib
import fnmatch
import re
from typing import Iterable

from torch import nn

from visadapt.registry import ConfigError


class NoMatchingTargetError(ConfigError):
    """No module of the model matches an adapter's target patterns."""


def _matches(name: str, pattern: str) -> bool:
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], name) is not None
    return fnmatch.fnmatchcase(name, pattern)


def matches_any(name: str, patterns: str | Iterable[str] | None) -> bool:
    return any(_matches(name, p) for p in as_patterns(patterns))


def as_patterns(patterns: str | Iterable[str] | None) -> list[str]:
    if patterns is None:
        return []
    return [patterns] if isinstance(patterns, str) else list(patterns)


def match_targets(
    model: nn.Module,
    targets: str | Iterable[str],
    exclude: str | Iterable[str] | None = None,
    where: str = "adapter",
) -> list[str]:
    """Names of the modules matching any target and no exclude pattern; each target must match something."""
    names = [n for n, _ in model.named_modules() if n]
    excluded = as_patterns(exclude)
    matched: list[str] = []
    for pattern in as_patterns(targets):
        hits = [n for n in names if _matches(n, pattern) and not any(_matches(n, e) for e in excluded)]
        if not hits:
            probe = pattern[3:] if pattern.startswith("re:") else pattern.replace("*", "0")
            near = difflib.get_close_matches(probe, names, n=5, cutoff=0.4)
            raise NoMatchingTargetError(
                f"{where}: target pattern '{pattern}' matches no module of {type(model).__name__}"
                + (f" (after exclude {excluded})" if excluded else "")
                + f". Near matches: {', '.join(near) if near else 'none'}."
            )
        matched.extend(h for h in hits if h not in matched)
    return matched


def get_parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    """The module holding ``name`` and the attribute under which it is held."""
    parent_name, _, attr = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), attr
