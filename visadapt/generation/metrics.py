"""Personalization metrics with a CLIP as judge (the model-zoo CLIP by default; a real OpenAI CLIP from a local file
where present: ``clip=dict(name="ViT-B-32-quickgelu", pretrained="path/to/open_clip_model.bin")``).

- identity similarity: (cos + 1) / 2 of CLIP image embeddings, generated subject image vs each instance image
  (CAT's ``eval_utils`` image similarity), averaged;
- prompt similarity: raw CLIP text-image cosine of a generated image and its prompt, the trigger word replaced by
  the class noun (CLIP does not know the trigger), averaged (CAT's prompt similarity);
- knowledge preservation (KPS): how close the adapted model's trigger-free generations stay to the base model's
  from the same seeds: (cos + 1) / 2 of each pair's CLIP image embeddings, aggregated with a harmonic mean (which
  a few collapsed pairs pull down more than an arithmetic mean would). The paper's exact KPS formula is not public:
  this definition is visadapt's, built from what the paper says of it (CLIP embeddings, token-free generations,
  harmonic-mean aggregation).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from visadapt.registry import ConfigError


def harmonic_mean(values: torch.Tensor) -> float:
    values = values.float().flatten()
    if values.numel() == 0 or bool((values <= 0).any()):
        raise ValueError("harmonic_mean: needs positive values")
    return float(values.numel() / (1.0 / values).sum())


class ClipJudge:
    """Unit-length CLIP embeddings of uint8 images (resized to the CLIP's input size) and of texts."""

    def __init__(self, clip: str | dict[str, Any] = "clip_tiny_shapes", device: str | torch.device = "cpu"):
        from visadapt.backbones.clip import OpenCLIPBackbone

        spec = dict(pretrained=clip) if isinstance(clip, str) else dict(clip)
        try:
            self.model = OpenCLIPBackbone(**spec).to(device).eval()
        except TypeError as err:
            raise ConfigError(f"clip: {err}") from err
        self.size = int(self.model.model.visual.image_size[0] if isinstance(self.model.model.visual.image_size,
                                                                            (tuple, list))
                        else self.model.model.visual.image_size)
        self.device = torch.device(device)

    @torch.no_grad()
    def images(self, images: Sequence[np.ndarray] | torch.Tensor) -> torch.Tensor:
        if not isinstance(images, torch.Tensor):
            images = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255
        images = F.interpolate(images.float().to(self.device), size=(self.size, self.size), mode="bilinear",
                               antialias=True, align_corners=False)
        return self.model.encode_image(images).float()

    @torch.no_grad()
    def texts(self, texts: Sequence[str]) -> torch.Tensor:
        return F.normalize(self.model.encode_text(list(texts)).float(), dim=-1)


def identity_similarity(generated: torch.Tensor, instances: torch.Tensor) -> float:
    """Mean over generated images and instance images of (cos + 1) / 2 (unit embeddings in, [0, 1] out)."""
    return float(((generated @ instances.t() + 1) / 2).mean())


def prompt_similarity(generated: torch.Tensor, prompts: torch.Tensor) -> float:
    """Mean cosine of each generated image with its own prompt."""
    return float((generated * prompts).sum(-1).mean())


def knowledge_preservation(adapted: torch.Tensor, base: torch.Tensor) -> float:
    """Harmonic mean over seed-matched pairs of (cos + 1) / 2."""
    return harmonic_mean(((adapted * base).sum(-1) + 1) / 2)
