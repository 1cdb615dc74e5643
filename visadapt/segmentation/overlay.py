"""Overlay PNGs for looking at predictions: image | ground truth over it | prediction over it, side by side."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

# Class colours (class 1 first: binary foreground is red); the background stays as the image.
PALETTE = np.array([(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
                    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40)],
                   np.float32)
MIN_HEIGHT = 192  # small images are enlarged (nearest neighbour) so the masks stay visible
TITLES = ("image", "ground truth", "prediction")
TITLE_HEIGHT = 20  # pixels of the title strip above the panels
GAP = 4  # white pixels between panels


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.5, ignore_index: int = 255) -> np.ndarray:
    """uint8 HxWx3 image with class ``c`` >= 1 of an HxW mask tinted in ``PALETTE[c - 1]``; ignored pixels grey."""
    out = image.astype(np.float32)
    for c in np.unique(mask):
        if c == 0:
            continue
        colour = np.full(3, 128, np.float32) if c == ignore_index else PALETTE[(int(c) - 1) % len(PALETTE)]
        where = mask == c
        out[where] = (1 - alpha) * out[where] + alpha * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def comparison(image: torch.Tensor, target: torch.Tensor, pred: torch.Tensor) -> np.ndarray:
    """[image | target overlay | prediction overlay] for a 3xHxW image in [0, 1] and HxW class-index masks, each
    panel titled."""
    pixels = (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    t, p = target.cpu().numpy(), pred.cpu().numpy()
    scale = max(1, -(-MIN_HEIGHT // pixels.shape[0]))
    panels = [np.repeat(np.repeat(x, scale, 0), scale, 1) for x in (pixels, overlay(pixels, t), overlay(pixels, p))]
    gap = np.full((panels[0].shape[0], GAP, 3), 255, np.uint8)
    row = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], 1)
    canvas = Image.new("RGB", (row.shape[1], row.shape[0] + TITLE_HEIGHT), "white")
    canvas.paste(Image.fromarray(row), (0, TITLE_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=TITLE_HEIGHT - 6)
    width = panels[0].shape[1]
    for k, title in enumerate(TITLES):
        centre = k * (width + GAP) + width // 2
        draw.text((centre, TITLE_HEIGHT // 2), title, fill="black", font=font, anchor="mm")
    return np.asarray(canvas)


@torch.no_grad()
def save_overlays(task: Any, loader: torch.utils.data.DataLoader, directory: str | Path, count: int) -> list[Path]:
    """The first ``count`` images of ``loader`` as ``directory/overlay_0000.png`` ..., predicted by
    ``task.predict_masks(images, masks, batch_idx)`` (the test split's prompts)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    was_training = task.training
    task.eval()
    paths: list[Path] = []
    device = next(task.parameters()).device
    for batch_idx, (images, masks) in enumerate(loader):
        if len(paths) >= count:
            break
        pred, _ = task.predict_masks(images.to(device), masks.to(device), batch_idx)
        for image, target, p in zip(images, masks, pred):
            if len(paths) >= count:
                break
            path = directory / f"overlay_{len(paths):04d}.png"
            Image.fromarray(comparison(image, target, p)).save(path)
            paths.append(path)
    task.train(was_training)
    return paths
