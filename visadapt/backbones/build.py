"""Building a backbone from its config dict, with what the task or the data asks of it."""
from __future__ import annotations

from typing import Any

from visadapt.registry import BACKBONES, ConfigError, accepted_arguments


def build_backbone(spec: dict[str, Any], **requested: Any):
    """``BACKBONES.build(spec)`` plus ``requested`` values (``num_classes`` for a new head, say) for the backbones
    whose constructor takes them; a value the config also sets must agree with the requested one."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise ConfigError(f"backbone: expected a dict with a 'type' key (one of {BACKBONES.list()}), got {spec!r}")
    accepted, open_ended = accepted_arguments(BACKBONES.get(spec["type"]))
    extra = {}
    for key, value in requested.items():
        if key in spec and spec[key] != value:
            raise ConfigError(f"backbone.{key}={spec[key]!r} but the task / data need {key}={value!r}")
        if key in accepted or open_ended:
            extra[key] = value
    return BACKBONES.build({**spec, **extra})
