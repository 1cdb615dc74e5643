"""The vocabulary and plain-data scene description of the shapes world (rendering lives in ``render``).

Coordinates are image units: ``x`` runs left to right and ``y`` top to bottom over ``[0, 1]``; an object's
``size`` is its radius in the same units and ``angle`` its counter-clockwise rotation in degrees as seen on
screen, so an arrow at angle 90 points up.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...registry import ConfigError

RGB = tuple[int, int, int]

SHAPES = ("circle", "square", "triangle", "star", "cross", "hexagon", "diamond", "arrow")
COLORS: dict[str, RGB] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 40),
    "green": (40, 175, 60),
    "cyan": (40, 205, 220),
    "blue": (40, 80, 230),
    "purple": (140, 60, 200),
    "pink": (255, 140, 195),
}
TEXTURES = ("solid", "stripes", "dots", "checker")
# Textures the world can paint but no task draws and no caption names: personalization subjects the pretrained
# models have never seen (kept apart so that TEXTURES, and every task's draws, stay as they were).
SUBJECT_TEXTURES = ("rings",)
BACKGROUNDS = ("dark", "light", "gradient", "noise")


def _check(value: str, allowed: tuple[str, ...] | dict, what: str) -> None:
    if value not in allowed:
        raise ConfigError(f"shapes scene: unknown {what} {value!r}; expected one of {', '.join(allowed)}")


@dataclass(frozen=True)
class ShapeObject:
    """One painted object; ``velocity`` (image units per frame) only matters for videos."""

    shape: str
    color: str
    size: float
    x: float
    y: float
    angle: float = 0.0
    texture: str = "solid"
    velocity: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        _check(self.shape, SHAPES, "shape")
        _check(self.color, COLORS, "color")
        _check(self.texture, TEXTURES + SUBJECT_TEXTURES, "texture")
        if not 0.0 < self.size <= 1.0:
            raise ConfigError(f"shapes scene: object size (radius) must be in (0, 1], got {self.size}")


@dataclass(frozen=True)
class Background:
    """``top``/``bottom`` colours are equal for plain kinds; ``noise_seed`` fixes the noise pattern."""

    kind: str
    top: RGB
    bottom: RGB
    noise_seed: int = 0

    def __post_init__(self) -> None:
        _check(self.kind, BACKGROUNDS, "background")


@dataclass(frozen=True)
class Shadow:
    """Cast shadows under one light: every object's silhouette shifted by ``offset`` (image units, ``y`` down)
    darkens what lies under it by ``strength``; objects are painted over the shadows."""

    offset: tuple[float, float]
    strength: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.strength < 1.0:
            raise ConfigError(f"shapes scene: shadow strength must be in (0, 1), got {self.strength}")


@dataclass(frozen=True)
class Scene:
    """A background and objects painted in order: later objects occlude earlier ones (and every shadow)."""

    background: Background
    objects: tuple[ShapeObject, ...]
    shadow: Shadow | None = None
