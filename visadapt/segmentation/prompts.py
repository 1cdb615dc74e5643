"""SAM prompts made from ground-truth masks, batched: boxes, sampled points, a grid of points, or none.

Coordinates follow SAM's convention: (x, y) = (column, row) in the pixel frame of the image given to the model
(gen_seg.md 1.4: ``np.argwhere`` gives (row, col), which two reference repos fed in
swapped). Labels: 1 foreground, 0 background.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from visadapt.registry import ConfigError


def boxes_from_masks(masks: torch.Tensor) -> torch.Tensor:
    """[B, H, W] masks -> [B, 4] boxes (x0, y0, x1, y1) around the foreground, pixel edges included
    (x1 = last column + 1); an empty mask gives the whole image."""
    b, h, w = masks.shape
    m = masks.bool()
    rows, cols = m.any(2), m.any(1)
    idx_h, idx_w = torch.arange(h, device=masks.device), torch.arange(w, device=masks.device)
    y0 = torch.where(rows, idx_h, h).min(1).values
    y1 = torch.where(rows, idx_h + 1, 0).max(1).values
    x0 = torch.where(cols, idx_w, w).min(1).values
    x1 = torch.where(cols, idx_w + 1, 0).max(1).values
    empty = ~m.flatten(1).any(1)
    box = torch.stack([x0, y0, x1, y1], 1).float()
    whole = torch.tensor([0.0, 0.0, w, h], device=masks.device).expand(b, 4)
    return torch.where(empty[:, None], whole, box)


def sample_points(masks: torch.Tensor, positives: int = 1, negatives: int = 0,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, ``positives`` pixel centres drawn uniformly from the foreground and ``negatives`` from the
    background (with replacement, so small regions work); -> coords [B, P+N, 2] (x, y), labels [B, P+N].
    An image without foreground (or background) gets that side's points labelled -1 (SAM's "not a point")."""
    b, h, w = masks.shape
    flat = masks.reshape(b, -1).bool()
    coords, labels = [], []
    for count, region, label in ((positives, flat, 1), (negatives, ~flat, 0)):
        if count == 0:
            continue
        weights = region.float()
        has = weights.sum(1) > 0
        weights[~has] = 1.0
        idx = torch.multinomial(weights, count, replacement=True, generator=generator)
        coords.append(torch.stack([idx % w, idx // w], -1).float() + 0.5)
        labels.append(torch.where(has[:, None], torch.full_like(idx, label), torch.full_like(idx, -1)))
    if not coords:
        raise ValueError("sample_points: ask for at least one positive or negative point")
    return torch.cat(coords, 1), torch.cat(labels, 1)


def grid_points(batch: int, height: int, width: int, per_side: int, device: torch.device | str = "cpu"
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_side`` x ``per_side`` points at cell centres (SAM's automatic mode), all labelled foreground."""
    ys = (torch.arange(per_side, device=device) + 0.5) * height / per_side
    xs = (torch.arange(per_side, device=device) + 0.5) * width / per_side
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(1, -1, 2)
    coords = grid.expand(batch, -1, -1).clone()
    return coords, torch.ones(batch, coords.shape[1], dtype=torch.long, device=device)


PROMPT_MODES = ("none", "box", "points", "grid")


@dataclass
class PromptConfig:
    """How a segmentation task prompts SAM, from the ground-truth mask of each image.

    ``mode``: ``none`` (SAM's prompt-free default embedding: SAMed, SAM-Adapter), ``box`` (the mask's bounding
    box), ``points`` (``positives`` foreground and ``negatives`` background clicks drawn from the mask: MSA),
    ``grid`` (``grid_size`` x ``grid_size`` points over the image, no mask needed: AdapterShadow's automatic
    mode), or a list of them: training draws one per batch, evaluation uses the first.
    """

    mode: str | list[str] = "none"
    positives: int = 1
    negatives: int = 0
    grid_size: int = 4

    def __post_init__(self) -> None:
        self.modes = [self.mode] if isinstance(self.mode, str) else list(self.mode)
        bad = [m for m in self.modes if m not in PROMPT_MODES]
        if bad or not self.modes:
            raise ConfigError(f"prompt.mode: {bad or self.mode!r} not in {', '.join(PROMPT_MODES)} (or a list of them)")
        if "points" in self.modes and self.positives + self.negatives < 1:
            raise ConfigError("prompt: mode 'points' needs positives + negatives >= 1")
        if self.grid_size < 1:
            raise ConfigError(f"prompt.grid_size must be >= 1, got {self.grid_size}")

    @property
    def needs_mask(self) -> bool:
        """Whether some mode reads the ground truth (so it only makes sense for binary targets)."""
        return any(m in ("box", "points") for m in self.modes)

    def pick(self, training: bool, generator: torch.Generator) -> str:
        if not training or len(self.modes) == 1:
            return self.modes[0]
        return self.modes[int(torch.randint(len(self.modes), (1,), generator=generator))]

    def prompts(self, mode: str, foreground: torch.Tensor, generator: torch.Generator | None = None
                ) -> dict[str, Any]:
        """``SAMBackbone`` keyword arguments for [B, H, W] foreground masks (a grid is one prompt for all)."""
        if mode == "box":
            return {"boxes": boxes_from_masks(foreground)}
        if mode == "points":
            return {"points": sample_points(foreground, self.positives, self.negatives, generator)}
        if mode == "grid":
            _, h, w = foreground.shape
            return {"points": grid_points(1, h, w, self.grid_size, foreground.device)}
        return {}
