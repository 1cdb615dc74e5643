"""The 15 common corruptions of Hendrycks & Dietterich (ICLR 2019, "ImageNet-C" / "CIFAR-10-C"), written with numpy,
OpenCV and PIL.

Every corruption is ``fn(image, severity, rng, table=None) -> image``: an HxWx3 uint8 RGB image, a severity in 1..5
and a ``numpy.random.Generator`` (all randomness is drawn from it, so the output is a function of the generator's
state). ``table`` picks the parameter table: ``"cifar"`` (the CIFAR-10-C values, made for 32x32 images) or
``"imagenet"`` (the ImageNet-C values, made for 224x224 crops); ``None`` picks ``"cifar"`` when the shorter image
side is at most ``SMALL_IMAGE_MAX`` (64) pixels and ``"imagenet"`` otherwise. Pixel-sized parameters (blur radii,
shuffle distances) are used as published, in pixels; only elastic_transform's parameters, which the original
defines as fractions of the image size, scale with the image.

Deviations from the original scripts (``make_cifar_c.py`` / ``make_imagenet_c.py``):

* frost: the original blends crops of six frost photographs shipped with its repository; none are available here,
  so a frost texture (multi-scale noise plus blurred ice-crystal streaks, tinted blue-white) is synthesised from
  ``rng`` at the photograph's scale (5x the image size for the CIFAR table, which the original downsizes by 0.2).
  Blend weights are the original ones; the texture statistics are only an approximation of the photographs.
* motion_blur and snow's streaks: the original calls ImageMagick's MagickMotionBlurImage through Wand; here an
  equivalent one-sided line kernel (Gaussian weights exp(-i^2 / 2 sigma^2) at integer offsets i along the angle,
  replicated border) is applied with ``cv2.filter2D``; taps past 4 sigma (weight < 3.4e-4) are dropped. The snow
  layer is not quantised to 8 bits before blurring as the original's PNG round-trip does.
* zoom (zoom_blur, snow's clipped_zoom): a centre-anchored bilinear ``cv2.warpAffine`` scale instead of
  crop + ``scipy.ndimage.zoom`` + trim (sub-pixel differences in the centre and at the border).
* gaussian smoothing (glass_blur): ``cv2.GaussianBlur`` with a replicated border (skimage's default 'nearest');
  the kernel is truncated at 4 sigma like skimage.
* impulse_noise: per-element salt-and-pepper (probability ``amount``, salt:pepper 1:1) drawn from ``rng``,
  the definition of skimage's ``random_noise(mode='s&p')``, without depending on scikit-image.
* brightness: the original adds ``c`` to V in HSV; the closed form used here (scale RGB by (V + c) / V, and grey
  ``c`` where V = 0) gives the same result without the colour-space round trip.
* elastic_transform: the displacement fields are smoothed with ``scipy.ndimage.gaussian_filter`` as in the
  original, but the final resampling uses ``cv2.remap`` (bilinear, reflect border) instead of
  ``scipy.ndimage.map_coordinates``.
* glass_blur: the pixel swaps run over an index permutation (same order and same swap rule) and the pixels are
  gathered once at the end, which gives the same result as swapping pixels in place.
* Random numbers come from ``rng`` (numpy Generator), not the global ``np.random`` state, so the corrupted pixels
  of a given image differ from the released CIFAR-10-C / ImageNet-C files; the distributions are the same.

As in the original, float results are clipped to [0, 255] and truncated (not rounded) to uint8 (with a 1e-6 guard
against float error, so an unchanged level stays unchanged).
"""
from __future__ import annotations

import io
import math
from typing import Callable

import cv2
import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from ...registry import ConfigError

SMALL_IMAGE_MAX = 64
TABLES = ("cifar", "imagenet")

# Parameter tables, one entry per severity 1..5: (CIFAR-10-C, ImageNet-C).
PARAMS: dict[str, tuple[list, list]] = {
    "gaussian_noise": ([0.04, 0.06, 0.08, 0.09, 0.10], [0.08, 0.12, 0.18, 0.26, 0.38]),
    "shot_noise": ([500, 250, 100, 75, 50], [60, 25, 12, 5, 3]),
    "impulse_noise": ([0.01, 0.02, 0.03, 0.05, 0.07], [0.03, 0.06, 0.09, 0.17, 0.27]),
    # (disk radius, alias blur sigma)
    "defocus_blur": ([(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)],
                     [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)]),
    # (sigma, max_delta, iterations)
    "glass_blur": ([(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)],
                   [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)]),
    # (radius, sigma)
    "motion_blur": ([(10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3)],
                    [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)]),
    # zoom factors np.arange(1, stop, step) as (stop, step)
    "zoom_blur": ([(1.06, 0.01), (1.11, 0.01), (1.16, 0.01), (1.21, 0.01), (1.26, 0.01)],
                  [(1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)]),
    # (loc, scale, zoom, threshold, blur radius, blur sigma, blend)
    "snow": ([(0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9), (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
              (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85), (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)],
             [(0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7), (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
              (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65), (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)]),
    # (image weight, frost weight)
    "frost": ([(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)],
              [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)]),
    # (fog strength, plasma wibble decay)
    "fog": ([(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)],
            [(1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)]),
    "brightness": ([0.05, 0.1, 0.15, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4, 0.5]),
    "contrast": ([0.75, 0.5, 0.4, 0.3, 0.15], [0.4, 0.3, 0.2, 0.1, 0.05]),
    # (alpha, sigma, affine jitter) as fractions of the image size: CIFAR 32 * f; ImageNet 244 * f on 224 crops
    # (the original's "244" for 224 images is kept: fractions are multiplied by 244/224 * size)
    "elastic_transform": ([(0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03)],
                          [(2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02),
                           (0.12, 0.01, 0.02)]),
    "pixelate": ([0.95, 0.9, 0.85, 0.75, 0.65], [0.6, 0.5, 0.4, 0.3, 0.25]),
    "jpeg_compression": ([80, 65, 58, 50, 40], [25, 18, 15, 10, 7]),
}


def pick_table(image: np.ndarray, table: str | None = None) -> str:
    """``table`` if given, else "cifar" for images whose shorter side is <= SMALL_IMAGE_MAX, else "imagenet"."""
    if table is None:
        return "cifar" if min(image.shape[:2]) <= SMALL_IMAGE_MAX else "imagenet"
    if table not in TABLES:
        raise ConfigError(f"corruptions: unknown parameter table '{table}'; valid tables: {', '.join(TABLES)}")
    return table


def params(name: str, severity: int, table: str) -> object:
    """The published parameter of corruption ``name`` at ``severity`` (1..5) in ``table``."""
    check_severity(severity)
    return PARAMS[name][TABLES.index(table)][severity - 1]


def check_severity(severity: int) -> None:
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or not 1 <= severity <= 5:
        raise ConfigError(f"corruptions: 'severity' must be an int in 1..5, got {severity!r}")


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ConfigError(f"corruptions: expected an HxWx3 uint8 RGB image, got {desc}")


def _to_uint8(x: np.ndarray, scale: float = 255.0) -> np.ndarray:
    """Clip ``x * scale`` to [0, 255] and truncate to uint8, as the original's ``np.uint8(...)``; a 1e-6 guard
    keeps float error from truncating an exact level (e.g. 100 / 255 * 255 = 99.99999...) one level down."""
    return (np.clip(x * scale, 0, 255) + 1e-6).astype(np.uint8)


def _f(image: np.ndarray) -> np.ndarray:
    # float64 as the original: in float32, 100 / 255 * 255 = 99.99999 would truncate to 99
    return image.astype(np.float64) / 255.0


# ---------------------------------------------------------------------------------------------------- helpers
def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """Anti-aliased disk: indicator of x^2 + y^2 <= r^2 on a (17x17, or 2r+1 for r > 8) grid, normalised and
    Gaussian-blurred (3x3 kernel, 5x5 for r > 8) with sigma ``alias_blur``."""
    if radius <= 8:
        half, ksize = 8, (3, 3)
    else:
        half, ksize = int(radius), (5, 5)
    coords = np.arange(-half, half + 1)
    xx, yy = np.meshgrid(coords, coords)
    disk = (xx**2 + yy**2 <= radius**2).astype(np.float32)
    disk /= disk.sum()
    return cv2.GaussianBlur(disk, ksize=ksize, sigmaX=alias_blur)


def motion_kernel(radius: float, sigma: float, angle: float) -> np.ndarray:
    """One-sided motion-blur kernel of ImageMagick's MotionBlurImage: taps i = 0..2*ceil(radius) with weights
    exp(-i^2 / (2 sigma^2)) at integer offsets round(i * (cos a, sin a)), normalised (taps beyond 4 sigma dropped).

    For ``cv2.filter2D`` (correlation): out(y, x) = sum_i w_i * in(y + dy_i, x + dx_i).
    """
    width = 2 * int(math.ceil(radius)) + 1
    taps = np.arange(min(width, int(math.ceil(4 * sigma)) + 1))
    weights = np.exp(-(taps.astype(np.float64) ** 2) / (2.0 * sigma * sigma))
    theta = math.radians(angle)
    dx = np.rint(taps * math.cos(theta)).astype(int)
    dy = np.rint(taps * math.sin(theta)).astype(int)
    half = int(max(np.abs(dx).max(), np.abs(dy).max()))
    kernel = np.zeros((2 * half + 1, 2 * half + 1), np.float64)
    np.add.at(kernel, (half + dy, half + dx), weights)
    return (kernel / kernel.sum()).astype(np.float32)


def _motion_blur(x: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    return cv2.filter2D(x, -1, motion_kernel(radius, sigma, angle), borderType=cv2.BORDER_REPLICATE)


def clipped_zoom(x: np.ndarray, zoom: float) -> np.ndarray:
    """Zoom into the centre of ``x`` by ``zoom`` (>= 1) keeping its size (bilinear)."""
    h, w = x.shape[:2]
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    matrix = np.float32([[zoom, 0, (1 - zoom) * cx], [0, zoom, (1 - zoom) * cy]])
    out = cv2.warpAffine(x, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out.reshape(x.shape)


def plasma_fractal(mapsize: int, wibbledecay: float, rng: np.random.Generator) -> np.ndarray:
    """Diamond-square plasma fractal on a wrapping ``mapsize`` x ``mapsize`` grid (power of 2), scaled to [0, 1]."""
    if mapsize < 2 or mapsize & (mapsize - 1):
        raise ValueError(f"plasma_fractal: mapsize must be a power of 2, got {mapsize}")
    grid = np.zeros((mapsize, mapsize), np.float64)
    step, wibble = mapsize, 100.0
    while step >= 2:
        half = step // 2
        corners = grid[0::step, 0::step]
        # square step: centre of each cell = mean of its 4 corners
        square = (corners + np.roll(corners, -1, 0) + np.roll(corners, -1, 1) + np.roll(corners, (-1, -1), (0, 1))) / 4
        grid[half::step, half::step] = square + wibble * rng.uniform(-1, 1, square.shape)
        centres = grid[half::step, half::step]
        # diamond step: edge midpoints = mean of the 2 corners and 2 centres around them
        vertical = (corners + np.roll(corners, -1, 0) + centres + np.roll(centres, 1, 1)) / 4
        horizontal = (corners + np.roll(corners, -1, 1) + centres + np.roll(centres, 1, 0)) / 4
        grid[half::step, 0::step] = vertical + wibble * rng.uniform(-1, 1, vertical.shape)
        grid[0::step, half::step] = horizontal + wibble * rng.uniform(-1, 1, horizontal.shape)
        step, wibble = half, wibble / wibbledecay
    grid -= grid.min()
    return grid / max(grid.max(), 1e-12)


def frost_texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Procedural stand-in for the frost photographs: HxWx3 float32 in [0, 255], blue-white ice on dark glass.

    Multi-scale value noise (cells of 4..64 px) gives the uneven haze; a few hundred short streaks at random
    angles, thin and blurred, give the crystal structure. Feature sizes are in the photographs' pixel scale.
    """
    haze = np.zeros((height, width), np.float32)
    total = 0.0
    for cell, amp in ((64, 1.0), (32, 0.6), (16, 0.4), (8, 0.25), (4, 0.15)):
        grid = rng.random((height // cell + 2, width // cell + 2)).astype(np.float32)
        up = cv2.resize(grid, ((width // cell + 2) * cell, (height // cell + 2) * cell), interpolation=cv2.INTER_CUBIC)
        haze += amp * up[:height, :width]
        total += amp
    haze = np.clip(haze / total, 0, 1) ** 1.5
    streaks = np.zeros((height, width), np.uint8)
    count = max(8, height * width // 300)
    starts = rng.random((count, 2)) * (width, height)
    lengths = rng.exponential(10.0, count) + 3.0
    angles = rng.uniform(0, 2 * np.pi, count)
    values = rng.integers(90, 256, count)
    ends = starts + lengths[:, None] * np.stack([np.cos(angles), np.sin(angles)], 1)
    for (x0, y0), (x1, y1), v in zip(starts.astype(int), ends.astype(int), values):
        cv2.line(streaks, (int(x0), int(y0)), (int(x1), int(y1)), int(v), 1, cv2.LINE_AA)
    ice = cv2.GaussianBlur(streaks.astype(np.float32) / 255.0, (0, 0), 0.8)
    frost = np.clip(0.55 * haze + 0.9 * ice, 0, 1)
    tint = np.float32([0.82, 0.91, 1.0])
    return frost[..., None] * tint * 255.0


# ---------------------------------------------------------------------------------------------------- noise
def gaussian_noise(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    c = params("gaussian_noise", severity, pick_table(image, table))
    return _to_uint8(_f(image) + rng.normal(0.0, c, image.shape))


def shot_noise(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    c = params("shot_noise", severity, pick_table(image, table))
    return _to_uint8(rng.poisson(_f(image) * c) / c)


def impulse_noise(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    amount = params("impulse_noise", severity, pick_table(image, table))
    x = _f(image)
    flipped = rng.random(image.shape) < amount
    salt = rng.random(image.shape) < 0.5
    x[flipped & salt] = 1.0
    x[flipped & ~salt] = 0.0
    return _to_uint8(x)


# ---------------------------------------------------------------------------------------------------- blur
def defocus_blur(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    radius, alias = params("defocus_blur", severity, pick_table(image, table))
    return _to_uint8(cv2.filter2D(_f(image), -1, disk_kernel(radius, alias)))


def _gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    ksize = 2 * int(4 * sigma + 0.5) + 1
    if ksize <= 1:
        return x
    return cv2.GaussianBlur(x, (ksize, ksize), sigma, borderType=cv2.BORDER_REPLICATE)


def glass_blur(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    sigma, delta, iterations = params("glass_blur", severity, pick_table(image, table))
    h, w = image.shape[:2]
    x = _to_uint8(_gaussian(_f(image), sigma))
    # Local shuffle: for h' from H-delta down to delta+1 and w' likewise, swap pixel (h', w') with a neighbour at
    # offset (dy, dx) in [-delta, delta). Track the swaps on an index map and gather the pixels once.
    rows = np.arange(h - delta, delta, -1)
    cols = np.arange(w - delta, delta, -1)
    index = list(range(h * w))
    for _ in range(iterations):
        offsets = rng.integers(-delta, delta, size=(len(rows) * len(cols), 2))  # (dx, dy) per visited pixel
        here = (rows[:, None] * w + cols[None, :]).ravel()
        there = here + offsets[:, 1] * w + offsets[:, 0]
        for a, b in zip(here.tolist(), there.tolist()):
            index[a], index[b] = index[b], index[a]
    x = x.reshape(h * w, 3)[np.asarray(index)].reshape(h, w, 3)
    return _to_uint8(np.clip(_gaussian(_f(x), sigma), 0, 1))


def motion_blur(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    radius, sigma = params("motion_blur", severity, pick_table(image, table))
    return _motion_blur(image, radius, sigma, rng.uniform(-45, 45))


def zoom_blur(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    stop, step = params("zoom_blur", severity, pick_table(image, table))
    zooms = np.arange(1, stop, step)
    x = _f(image)
    out = np.zeros_like(x)
    for zoom in zooms:
        out += clipped_zoom(x, float(zoom))
    return _to_uint8((x + out) / (len(zooms) + 1))


# ---------------------------------------------------------------------------------------------------- weather
def snow(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    loc, scale, zoom, threshold, radius, sigma, blend = params("snow", severity, pick_table(image, table))
    h, w = image.shape[:2]
    x = _f(image)
    layer = rng.normal(loc, scale, (h, w))
    layer = clipped_zoom(layer, zoom)
    layer[layer < threshold] = 0
    layer = _motion_blur(np.clip(layer, 0, 1), radius, sigma, rng.uniform(-135, -45))[..., None]
    grey = (x @ np.array([0.299, 0.587, 0.114]))[..., None]  # cv2's RGB2GRAY weights
    x = blend * x + (1 - blend) * np.maximum(x, grey * 1.5 + 0.5)
    return _to_uint8(np.clip(x + layer + np.rot90(layer, k=2), 0, 1))


def frost(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    name = pick_table(image, table)
    weight_image, weight_frost = params("frost", severity, name)
    h, w = image.shape[:2]
    if name == "cifar":  # the original shrinks the photographs by 0.2 for CIFAR: synthesise at 5x, then shrink
        texture = cv2.resize(frost_texture(5 * h, 5 * w, rng), (w, h), interpolation=cv2.INTER_AREA)
    else:
        texture = frost_texture(h, w, rng)
    return _to_uint8(weight_image * image.astype(np.float64) + weight_frost * texture, scale=1.0)


def fog(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    strength, decay = params("fog", severity, pick_table(image, table))
    h, w = image.shape[:2]
    x = _f(image)
    max_val = x.max()
    mapsize = 1 << max(1, math.ceil(math.log2(max(h, w))))
    x = x + strength * plasma_fractal(mapsize, decay, rng)[:h, :w, None]
    return _to_uint8(np.clip(x * max_val / (max_val + strength), 0, 1))


# ---------------------------------------------------------------------------------------------------- digital
def brightness(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    c = params("brightness", severity, pick_table(image, table))
    x = _f(image)
    value = x.max(axis=2, keepdims=True)  # V of HSV
    new_value = np.clip(value + c, 0, 1)
    safe = np.where(value > 0, value, 1)
    out = np.where(value > 0, x * (new_value / safe), new_value)
    return _to_uint8(out)


def contrast(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    c = params("contrast", severity, pick_table(image, table))
    x = _f(image)
    means = x.mean(axis=(0, 1), keepdims=True)
    return _to_uint8((x - means) * c + means)


def elastic_transform(image: np.ndarray, severity: int, rng: np.random.Generator,
                      table: str | None = None) -> np.ndarray:
    name = pick_table(image, table)
    size = min(image.shape[:2])
    unit = size if name == "cifar" else size * 244.0 / 224.0
    alpha, sigma, affine = (f * unit for f in params("elastic_transform", severity, name))
    h, w = image.shape[:2]
    x = _f(image)
    centre = np.float32([h // 2, w // 2])
    square = size // 3
    pts1 = np.float32([centre + square, [centre[0] + square, centre[1] - square], centre - square])
    pts2 = (pts1 + rng.uniform(-affine, affine, pts1.shape)).astype(np.float32)
    matrix = cv2.getAffineTransform(pts1, pts2)
    x = cv2.warpAffine(x, matrix, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    noise = rng.uniform(-1, 1, (2, h, w))
    if alpha > 0 and sigma > 0:
        dx = gaussian_filter(noise[0], sigma, mode="reflect", truncate=3) * alpha
        dy = gaussian_filter(noise[1], sigma, mode="reflect", truncate=3) * alpha
    else:
        dx = dy = np.zeros((h, w))
    grid_y, grid_x = np.mgrid[0:h, 0:w]
    map_x = (grid_x + dx).astype(np.float32)
    map_y = (grid_y + dy).astype(np.float32)
    out = cv2.remap(x, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return _to_uint8(np.clip(out, 0, 1))


def pixelate(image: np.ndarray, severity: int, rng: np.random.Generator, table: str | None = None) -> np.ndarray:
    c = params("pixelate", severity, pick_table(image, table))
    h, w = image.shape[:2]
    small = Image.fromarray(image).resize((max(1, int(w * c)), max(1, int(h * c))), Image.BOX)
    return np.asarray(small.resize((w, h), Image.BOX)).copy()


def jpeg_compression(image: np.ndarray, severity: int, rng: np.random.Generator,
                     table: str | None = None) -> np.ndarray:
    quality = params("jpeg_compression", severity, pick_table(image, table))
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB")).copy()


# ---------------------------------------------------------------------------------------------------- registry
CORRUPTION_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "defocus_blur": defocus_blur,
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "zoom_blur": zoom_blur,
    "snow": snow,
    "frost": frost,
    "fog": fog,
    "brightness": brightness,
    "contrast": contrast,
    "elastic_transform": elastic_transform,
    "pixelate": pixelate,
    "jpeg_compression": jpeg_compression,
}
# The standard order (CoTTA/TENT/RobustBench ``CORRUPTION.TYPE``).
CORRUPTIONS: tuple[str, ...] = tuple(CORRUPTION_FUNCTIONS)
# The four held-out corruptions of the benchmark; files exist for them on disk, no generator is implemented here.
EXTRA_CORRUPTIONS: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "saturate")


def check_corruption(name: str, valid: tuple[str, ...] = CORRUPTIONS, where: str = "corruptions") -> None:
    if name not in valid:
        raise ConfigError(f"{where}: unknown corruption '{name}'; valid corruptions: {', '.join(valid)}")


def corrupt(image: np.ndarray, name: str, severity: int, rng: np.random.Generator | int | None = None,
            table: str | None = None) -> np.ndarray:
    """Corruption ``name`` (one of ``CORRUPTIONS``) at ``severity`` 1..5 of an HxWx3 uint8 image.

    ``rng`` is a ``numpy.random.Generator`` or a seed for one; ``table`` as in the module docstring.
    """
    check_corruption(name)
    check_severity(severity)
    _check_image(image)
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    out = CORRUPTION_FUNCTIONS[name](np.ascontiguousarray(image), int(severity), rng, table=table)
    assert out.shape == image.shape and out.dtype == np.uint8, (name, out.shape, out.dtype)
    return out
