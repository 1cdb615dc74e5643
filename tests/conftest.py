"""Tiny fixtures shared by the suite: a 2-block timm ViT on 16x16 images builds in milliseconds."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
# Tiny models: one thread avoids thread-pool overhead that dominates on a busy 2-core machine.
torch.set_num_threads(1)
sys.path.insert(0, str(ROOT))

TINY_ARCH = "vit_tiny_patch16_224"
TINY_KWARGS = dict(img_size=16, patch_size=4, depth=2, embed_dim=24, num_heads=2)
TINY_VIT = dict(name=TINY_ARCH, **TINY_KWARGS)


@pytest.fixture
def tiny_vit():
    """A freshly built tiny ViT backbone with a 5-class head (same weights every call)."""
    from visadapt.backbones import TimmBackbone

    def make(num_classes: int = 5, **overrides):
        torch.manual_seed(0)
        return TimmBackbone(num_classes=num_classes, **{**TINY_VIT, **overrides}).eval()

    return make


@pytest.fixture
def images():
    return torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def perturb_adapters(model, seed: int = 3) -> None:
    """Give adapter weights non-trivial values (zero-initialised up/B factors would hide bugs)."""
    from visadapt.adapters import adapter_state_dict

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in adapter_state_dict(model).values():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
