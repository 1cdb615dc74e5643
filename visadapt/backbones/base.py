"""The contract every backbone wrapper honours.

A wrapper owns an *unmodified* upstream model in ``self.model`` (adapters target its module names, and a
merged ``self.model.state_dict()`` loads back into the upstream library), plus the input normalisation, so
images enter in [0, 1].
"""
from __future__ import annotations

import abc
from typing import Sequence

import torch
from torch import nn


class Backbone(nn.Module, abc.ABC):
    """Base class: normalisation + the upstream model.

    Subclasses set ``self.model``, ``num_features``, ``classifier_name`` (the head's module name inside
    ``self.model``, or None) and ``target_presets`` (named module-name patterns such as ``qkv``).
    """

    model: nn.Module
    num_features: int
    classifier_name: str | None = None
    target_presets: dict[str, list[str]] = {}
    zoo_suffix = ".safetensors"  # what save_pretrained writes: a file, or "" for a folder

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
