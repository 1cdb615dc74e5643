"""The contracts every backbone wrapper honours.

``Backbone`` is the minimum: an *unmodified* upstream model (or a container of several, such as a diffusion
pipeline's UNet, text encoder and VAE) in ``self.model``, the module adapters are injected into
(``adapted_model``; their names are that module's own, and a merged ``state_dict()`` of it loads back into the
upstream library), and named module-name patterns for targeting (``target_presets``).

``ImageEncoder`` is the role of the classification / CLIP / SAM backbones on top: input normalisation inside
(images enter in [0, 1]), ``forward`` and pooled ``forward_features``.
"""
from __future__ import annotations

import abc
from typing import Sequence

import torch
from torch import nn


class Backbone(nn.Module):
    """Base class: the upstream model and where adapters go.

    Subclasses set ``self.model`` and may set ``target_presets`` (named module-name patterns such as ``qkv``) and
    ``zoo_suffix`` (what ``save_pretrained`` writes: a file suffix, or "" for a folder).
    """

    model: nn.Module
    target_presets: dict[str, list[str]] = {}
    zoo_suffix = ".safetensors"

    @property
    def adapted_model(self) -> nn.Module:
        """The module adapters are injected into, saved from and merged into."""
        return self.model


class ImageEncoder(Backbone, abc.ABC):
    """An image backbone: normalisation + the upstream model.

    Subclasses also set ``num_features`` and ``classifier_name`` (the head's module name inside ``self.model``, or
    None).
    """

    num_features: int
    classifier_name: str | None = None

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        # Not persistent: the upstream state dict must stay exactly the upstream model's.
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean.to(images.dtype)) / self.std.to(images.dtype)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (or the model's output) for images in [0, 1]."""
        return self.model(self.normalize(images))

    @abc.abstractmethod
    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled features (what a new head or a linear probe consumes) for images in [0, 1]."""
