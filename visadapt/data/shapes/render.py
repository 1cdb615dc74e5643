"""Vectorised numpy rendering of shapes-world scenes to images, instance masks and short videos.

Objects are rasterised on a ``supersample``-times finer grid, only inside their bounding box, and the canvas is
box-downsampled, which anti-aliases edges. Each supersample remembers which object painted it last, so instance
masks (a pixel belongs to an object when at least half of it is visibly covered by it) respect occlusion. Cast
shadows (``Scene.shadow``) darken the background under each object's shifted silhouette before the objects are
painted, so objects occlude shadows, and their visible part is a mask of its own.
"""
from __future__ import annotations

import dataclasses
import math
from functools import lru_cache

import numpy as np

from .scene import COLORS, Background, Scene, ShapeObject

REACH = 1.1  # every shape lies inside REACH * size of its centre
TEXTURE_FREQUENCY = 2.0  # texture periods per object radius: the pattern scales and turns with the object
SHADE = 0.45  # the second colour of a texture is the object colour darkened by this factor
NOISE_AMPLITUDE = 50.0


def _half_planes(degrees: np.ndarray, offset: float) -> tuple[np.ndarray, np.ndarray, float]:
    radians = np.deg2rad(degrees)
    return np.cos(radians).astype(np.float32), np.sin(radians).astype(np.float32), offset


def _regular(sides: int, first_vertex_deg: float, circumradius: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Edge normals of a regular polygon: inside iff every projection is at most the apothem."""
    normals = first_vertex_deg + 180.0 / sides + 360.0 / sides * np.arange(sides)
    return _half_planes(normals, circumradius * math.cos(math.pi / sides))


_TRIANGLE = _regular(3, 90.0, 1.1)
_HEXAGON = _regular(6, 0.0, 1.0)
# A pentagram's 5 lines have their normals towards the 5 tips at distance R cos(72 deg); the filled star is
# where a point lies beyond at most one line (inside a tip) or none (the central pentagon).
_STAR = _half_planes(90.0 + 72.0 * np.arange(5), 1.1 * math.cos(math.radians(72.0)))


def _beyond(u: np.ndarray, v: np.ndarray, planes: tuple[np.ndarray, np.ndarray, float]) -> np.ndarray:
    cos, sin, offset = planes
    count = np.zeros(u.shape, np.int8)
    for c, s in zip(cos.tolist(), sin.tolist()):
        count += u * c + v * s > offset
    return count


def _arrow(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shaft behind the centre, head in front: the one shape without rotational symmetry."""
    av = np.abs(v)
    return ((u >= -0.95) & (u <= 0.05) & (av <= 0.25)) | ((u >= 0.05) & ((u - 0.05) / 0.9 + av / 0.65 <= 1.0))


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    au, av = np.abs(u), np.abs(v)
    return ((au <= 0.3) & (av <= 0.95)) | ((av <= 0.3) & (au <= 0.95))


# Membership in each shape of unit radius; ``u`` points along the object's angle, ``v`` 90 degrees further.
_RASTERISERS = {
    "circle": lambda u, v: u * u + v * v <= 1.0,
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 0.78,
    "triangle": lambda u, v: _beyond(u, v, _TRIANGLE) == 0,
    "star": lambda u, v: _beyond(u, v, _STAR) <= 1,
    "cross": _cross,
    "hexagon": lambda u, v: _beyond(u, v, _HEXAGON) == 0,
    "diamond": lambda u, v: np.abs(u) / 0.7 + np.abs(v) / 1.05 <= 1.0,
    "arrow": _arrow,
}


def _dots(fu: np.ndarray, fv: np.ndarray) -> np.ndarray:
    du, dv = fu - np.round(fu), fv - np.round(fv)
    return du * du + dv * dv <= 0.09


# Where the darker texture colour goes, from coordinates in texture periods (solid objects have no pattern).
_PATTERNS = {
    "stripes": lambda fu, fv: np.floor(fu).astype(np.int32) % 2 == 1,
    "dots": _dots,
    "checker": lambda fu, fv: (np.floor(fu).astype(np.int32) + np.floor(fv).astype(np.int32)) % 2 == 1,
    "rings": lambda fu, fv: np.floor(2 * np.sqrt(fu * fu + fv * fv)).astype(np.int32) % 2 == 1,
}


def render_background(background: Background, image_size: int) -> np.ndarray:
    """Float32 HxWx3 background in [0, 255], drawn at the output resolution (noise is per output pixel)."""
    top = np.asarray(background.top, np.float32)
    bottom = np.asarray(background.bottom, np.float32)
    t = ((np.arange(image_size, dtype=np.float32) + 0.5) / image_size)[:, None, None]
    image = np.broadcast_to(top + (bottom - top) * t, (image_size, image_size, 3))
    if background.kind == "noise":
        rng = np.random.default_rng(background.noise_seed)
        noise = rng.uniform(-NOISE_AMPLITUDE, NOISE_AMPLITUDE, (image_size, image_size, 1)).astype(np.float32)
        image = np.clip(image + noise, 0.0, 255.0)
    return np.ascontiguousarray(image, dtype=np.float32)


@lru_cache(maxsize=16)
def _grid(image_size: int, supersample: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample-centre coordinates of the fine grid and, per sample, the index of the output pixel it falls in."""
    fine = image_size * supersample
    centres = (np.arange(fine, dtype=np.float32) + 0.5) / fine
    pixel = np.arange(fine) // supersample
    pixel_ids = pixel[:, None] * image_size + pixel[None, :]
    return centres, pixel_ids


def _silhouette(fine: int, centres: np.ndarray, obj: ShapeObject, dx: float = 0.0, dy: float = 0.0):
    """``(rows, cols, inside, u, v)`` of ``obj`` moved by (dx, dy) on the fine grid, only over its bounding box
    (``u``, ``v``: object-frame coordinates, for textures); None when it lies outside the image."""
    x, y, reach = obj.x + dx, obj.y + dy, obj.size * REACH
    y0, y1 = max(0, math.floor((y - reach) * fine)), min(fine, math.ceil((y + reach) * fine))
    x0, x1 = max(0, math.floor((x - reach) * fine)), min(fine, math.ceil((x + reach) * fine))
    if y0 >= y1 or x0 >= x1:
        return None
    ex = (centres[x0:x1] - x)[None, :] / obj.size
    ey = (y - centres[y0:y1])[:, None] / obj.size  # pointing up on screen
    c, s = math.cos(math.radians(obj.angle)), math.sin(math.radians(obj.angle))
    u, v = ex * c + ey * s, ey * c - ex * s
    return slice(y0, y1), slice(x0, x1), _RASTERISERS[obj.shape](u, v), u, v


def _paint(canvas: np.ndarray, owner: np.ndarray, centres: np.ndarray, obj: ShapeObject, index: int) -> None:
    found = _silhouette(canvas.shape[0], centres, obj)
    if found is None:
        return
    rows, cols, inside, u, v = found
    colour = np.asarray(COLORS[obj.color], np.float32)
    region = canvas[rows, cols]
    if obj.texture == "solid":
        region[inside] = colour
    else:
        pattern = _PATTERNS[obj.texture](u * TEXTURE_FREQUENCY, v * TEXTURE_FREQUENCY)
        region[inside & ~pattern] = colour
        region[inside & pattern] = colour * SHADE
    owner[rows, cols][inside] = index + 1


def _cast_shadows(canvas: np.ndarray, centres: np.ndarray, scene: Scene) -> np.ndarray:
    """Darken the union of the shifted silhouettes once (overlapping shadows do not stack); returns it."""
    shadowed = np.zeros(canvas.shape[:2], bool)
    dx, dy = scene.shadow.offset
    for obj in scene.objects:
        found = _silhouette(canvas.shape[0], centres, obj, dx, dy)
        if found is not None:
            rows, cols, inside = found[:3]
            shadowed[rows, cols] |= inside
    canvas[shadowed] *= 1.0 - scene.shadow.strength
    return shadowed


def _box_downsample(canvas: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor blocks; strided adds are several times faster than ``reshape(...).mean``."""
    rows = canvas[0::factor].copy()
    for i in range(1, factor):
        rows += canvas[i::factor]
    out = rows[:, 0::factor].copy()
    for j in range(1, factor):
        out += rows[:, j::factor]
    return out / (factor * factor)


def _counts(pixel_ids: np.ndarray, labels: np.ndarray, slots: int, supersample: int) -> np.ndarray:
    """[slots, H, W]: how many of each output pixel's samples carry each label 0..slots-1."""
    size = pixel_ids.shape[0] // supersample
    counts = np.bincount((pixel_ids * slots + labels).ravel(), minlength=size * size * slots)
    return np.ascontiguousarray(counts.reshape(size, size, slots).transpose(2, 0, 1))


def render_layers(scene: Scene, image_size: int = 32, supersample: int = 4
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(uint8 HxWx3 image, bool [num_objects, H, W] visible instance masks, bool HxW visible shadow mask)``;
    the shadow mask is empty for scenes without a ``shadow``."""
    centres, pixel_ids = _grid(image_size, supersample)
    background = render_background(scene.background, image_size)
    canvas = np.repeat(np.repeat(background, supersample, axis=0), supersample, axis=1)
    shadowed = _cast_shadows(canvas, centres, scene) if scene.shadow is not None else None
    owner = np.zeros(canvas.shape[:2], np.int64)  # 0 = background, k + 1 = object k
    for index, obj in enumerate(scene.objects):
        _paint(canvas, owner, centres, obj, index)
    image = np.clip(np.rint(_box_downsample(canvas, supersample)), 0, 255).astype(np.uint8)
    masks = 2 * _counts(pixel_ids, owner, len(scene.objects) + 1, supersample)[1:] >= supersample**2
    if shadowed is None:
        return image, masks, np.zeros((image_size, image_size), bool)
    # Strictly more than half, so a pixel split evenly with an object is the object's only.
    shadow = 2 * _counts(pixel_ids, (shadowed & (owner == 0)).astype(np.int64), 2, supersample)[1] > supersample**2
    return image, masks, shadow


def render_scene(scene: Scene, image_size: int = 32, supersample: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``(uint8 HxWx3 image, bool [num_objects, H, W] visible instance masks)``."""
    return render_layers(scene, image_size, supersample)[:2]


def _bounce(position: float, step: float, radius: float) -> float:
    """Position after moving ``step`` inside ``[radius, 1 - radius]`` with mirror reflections at the ends."""
    span = 1.0 - 2.0 * radius
    if span <= 0.0:
        return 0.5
    folded = (position - radius + step) % (2.0 * span)
    return radius + (folded if folded <= span else 2.0 * span - folded)


def move_scene(scene: Scene, frame: int) -> Scene:
    """The scene after ``frame`` steps of every object's velocity, bouncing off the image borders."""
    moved = tuple(
        dataclasses.replace(
            obj,
            x=_bounce(obj.x, obj.velocity[0] * frame, obj.size),
            y=_bounce(obj.y, obj.velocity[1] * frame, obj.size),
        )
        for obj in scene.objects
    )
    return dataclasses.replace(scene, objects=moved)


def render_video(scene: Scene, num_frames: int = 8, image_size: int = 32) -> np.ndarray:
    """uint8 ``[T, H, W, 3]`` clip of the scene's objects moving by their velocities (masks: ``move_scene``)."""
    return np.stack([render_scene(move_scene(scene, t), image_size)[0] for t in range(num_frames)])
