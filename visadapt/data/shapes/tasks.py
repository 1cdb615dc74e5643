"""Classification tasks over the shapes world: for each, how to sample a scene given its label, and the label
of a scene.

A task fixes one factor from the label and draws every other factor at random (nuisance factors). Samplers draw
only from the generator they are given, so a scene is a pure function of that generator's seed. Everything here
is a module-level function (no lambdas) so datasets stay picklable for spawned DataLoader workers.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, Sequence

import numpy as np

from .scene import BACKGROUNDS, COLORS, RGB, SHAPES, TEXTURES, Background, Scene, ShapeObject

COLOR_NAMES = tuple(COLORS)
SIZE_RANGES = ((0.07, 0.11), (0.15, 0.19), (0.24, 0.30))  # radius per size class; gaps keep classes apart
DISTANCE_RANGES = ((0.25, 0.33), (0.40, 0.48), (0.55, 0.63), (0.70, 0.78))  # centre distance per class
ORIENTATION_JITTER = 15.0  # degrees around each 45-degree direction, leaving 15-degree gaps between classes
MAX_SPEED = 0.04  # image units per video frame


@dataclass(frozen=True)
class ShapesTask:
    """``sample(rng, label) -> Scene`` and its inverse ``label(scene) -> int``."""

    class_names: tuple[str, ...]
    sample: Callable[[np.random.Generator, int], Scene]
    label: Callable[[Scene], int]
    description: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _grey(rng: np.random.Generator, low: float, high: float) -> RGB:
    level, tint = rng.uniform(low, high), rng.uniform(-8.0, 8.0, 3)
    return tuple(int(np.clip(round(level + t), 0, 255)) for t in tint)


def sample_background(rng: np.random.Generator, kind: str | None = None) -> Background:
    """A random background, of ``kind`` when given."""
    kind = kind or _pick(rng, BACKGROUNDS)
    if kind == "gradient":  # dark to light, either way up
        top, bottom = _grey(rng, 20, 80), _grey(rng, 170, 235)
        return Background(kind, *((bottom, top) if rng.random() < 0.5 else (top, bottom)))
    level = {"dark": (10, 50), "light": (205, 245), "noise": (95, 160)}[kind]
    colour = _grey(rng, *level)
    return Background(kind, colour, colour, int(rng.integers(2**31)) if kind == "noise" else 0)


def sample_object(
    rng: np.random.Generator,
    size: float,
    x: float,
    y: float,
    shape: str | None = None,
    color: str | None = None,
    texture: str | None = None,
    angle: float | None = None,
) -> ShapeObject:
    """An object at a given place and size; factors left as ``None`` are random, velocity always is."""
    speed, heading = rng.uniform(0.0, MAX_SPEED), rng.uniform(0.0, 2.0 * math.pi)
    return ShapeObject(
        shape=shape or _pick(rng, SHAPES),
        color=color or _pick(rng, COLOR_NAMES),
        size=float(size),
        x=float(x),
        y=float(y),
        angle=float(rng.uniform(0.0, 360.0) if angle is None else angle),
        texture=texture or _pick(rng, TEXTURES),
        velocity=(speed * math.cos(heading), speed * math.sin(heading)),
    )


def _scatter(rng: np.random.Generator, radii: list[float], margin: float) -> tuple[list[float], list[tuple]]:
    """Non-overlapping centres inside the image; shrinks all radii by 10% whenever placement gets stuck."""
    while True:
        centres: list[tuple[float, float]] = []
        for r in radii:
            for _ in range(100):
                x, y = rng.uniform(r, 1.0 - r, 2)
                if all(math.hypot(x - cx, y - cy) >= r + cr + margin for (cx, cy), cr in zip(centres, radii)):
                    centres.append((x, y))
                    break
            else:
                break
        if len(centres) == len(radii):
            return radii, centres
        radii = [0.9 * r for r in radii]


def _single(rng: np.random.Generator, size_range: tuple[float, float], background: str | None = None, **fixed) -> Scene:
    size = rng.uniform(*size_range)
    x, y = rng.uniform(size, 1.0 - size, 2)
    return Scene(sample_background(rng, background), (sample_object(rng, size, x, y, **fixed),))


def scatter_scene(
    rng: np.random.Generator, count: int, size_range: tuple[float, float], background: str | None = None, **fixed
) -> Scene:
    radii, centres = _scatter(rng, rng.uniform(*size_range, count).tolist(), margin=0.03)
    objects = tuple(sample_object(rng, r, x, y, **fixed) for r, (x, y) in zip(radii, centres))
    return Scene(sample_background(rng, background), objects)


def _sample_shape(rng: np.random.Generator, label: int) -> Scene:
    return _single(rng, (0.18, 0.34), shape=SHAPES[label])


def _sample_color(rng: np.random.Generator, label: int) -> Scene:
    return _single(rng, (0.12, 0.30), color=COLOR_NAMES[label])


def _sample_texture(rng: np.random.Generator, label: int) -> Scene:
    return _single(rng, (0.26, 0.40), texture=TEXTURES[label])


def _sample_background(rng: np.random.Generator, label: int) -> Scene:
    return scatter_scene(rng, int(rng.integers(1, 4)), (0.08, 0.20), background=BACKGROUNDS[label])


def _sample_count(rng: np.random.Generator, label: int) -> Scene:
    return scatter_scene(rng, label + 1, (0.07, 0.13))


def _sample_position(rng: np.random.Generator, label: int) -> Scene:
    size = rng.uniform(0.08, 0.18)
    bottom, right = divmod(label, 2)
    x = rng.uniform(0.56, 1.0 - size) if right else rng.uniform(size, 0.44)
    y = rng.uniform(0.56, 1.0 - size) if bottom else rng.uniform(size, 0.44)
    return Scene(sample_background(rng), (sample_object(rng, size, x, y),))


def _sample_size(rng: np.random.Generator, label: int) -> Scene:
    return _single(rng, SIZE_RANGES[label])


def _sample_orientation(rng: np.random.Generator, label: int) -> Scene:
    angle = (45.0 * label + rng.uniform(-ORIENTATION_JITTER, ORIENTATION_JITTER)) % 360.0
    return _single(rng, (0.22, 0.36), shape="arrow", angle=angle)


def _sample_distance(rng: np.random.Generator, label: int) -> Scene:
    low, high = DISTANCE_RANGES[label]
    r0, r1 = rng.uniform(0.07, 0.11, 2)
    while True:
        distance, heading = rng.uniform(low, high), rng.uniform(0.0, 2.0 * math.pi)
        x0, y0 = rng.uniform(r0, 1.0 - r0, 2)
        x1, y1 = x0 + distance * math.cos(heading), y0 + distance * math.sin(heading)
        if r1 <= x1 <= 1.0 - r1 and r1 <= y1 <= 1.0 - r1:
            break
    objects = (sample_object(rng, r0, x0, y0), sample_object(rng, r1, x1, y1))
    return Scene(sample_background(rng), objects)


def _sample_shape_multi(rng: np.random.Generator, label: int) -> Scene:
    return scatter_scene(rng, int(rng.integers(1, 4)), (0.10, 0.24), shape=SHAPES[label])


def _first_object(attribute: str, values: Sequence[str], scene: Scene) -> int:
    return list(values).index(getattr(scene.objects[0], attribute))


def _background_label(scene: Scene) -> int:
    return BACKGROUNDS.index(scene.background.kind)


def _count_label(scene: Scene) -> int:
    return len(scene.objects) - 1


def _position_label(scene: Scene) -> int:
    obj = scene.objects[0]
    return 2 * int(obj.y >= 0.5) + int(obj.x >= 0.5)


def _midpoints(ranges: tuple[tuple[float, float], ...]) -> list[float]:
    return [(a[1] + b[0]) / 2.0 for a, b in zip(ranges, ranges[1:])]


def _size_label(scene: Scene) -> int:
    return bisect.bisect(_midpoints(SIZE_RANGES), scene.objects[0].size)


def _orientation_label(scene: Scene) -> int:
    return round(scene.objects[0].angle / 45.0) % 8


def _distance_label(scene: Scene) -> int:
    a, b = scene.objects[:2]
    return bisect.bisect(_midpoints(DISTANCE_RANGES), math.hypot(a.x - b.x, a.y - b.y))


SHAPES_TASKS: dict[str, ShapesTask] = {
    "shape": ShapesTask(SHAPES, _sample_shape, partial(_first_object, "shape", SHAPES), "shape of one object"),
    "color": ShapesTask(
        COLOR_NAMES, _sample_color, partial(_first_object, "color", COLOR_NAMES), "colour of one object"
    ),
    "texture": ShapesTask(
        TEXTURES, _sample_texture, partial(_first_object, "texture", TEXTURES), "texture of one large object"
    ),
    "background": ShapesTask(BACKGROUNDS, _sample_background, _background_label, "background kind, 1-3 objects"),
    "count": ShapesTask(
        ("one", "two", "three", "four", "five", "six"), _sample_count, _count_label, "number of separate objects"
    ),
    "position": ShapesTask(
        ("top-left", "top-right", "bottom-left", "bottom-right"),
        _sample_position,
        _position_label,
        "image quadrant of one object's centre",
    ),
    "size": ShapesTask(("small", "medium", "large"), _sample_size, _size_label, "radius class of one object"),
    "orientation": ShapesTask(
        ("east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east"),
        _sample_orientation,
        _orientation_label,
        "direction an arrow points, 8 bins of 45 degrees",
    ),
    "distance": ShapesTask(
        ("near", "medium", "far", "very far"), _sample_distance, _distance_label, "distance between two objects"
    ),
    "shape_multi": ShapesTask(
        SHAPES,
        _sample_shape_multi,
        partial(_first_object, "shape", SHAPES),
        "shape shared by 1-3 small objects, every other factor random (a harder shape task)",
    ),
}
