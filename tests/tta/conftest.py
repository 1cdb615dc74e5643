"""Fixtures of the TTA tool tests."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    import torch

    from visadapt.backbones import TimmBackbone

    torch.manual_seed(0)
    backbone = TimmBackbone("vit_tiny_patch16_224", num_classes=8, img_size=16, patch_size=4, depth=2, embed_dim=24,
                            num_heads=2)
    return backbone.save_pretrained(tmp_path_factory.mktemp("weights") / "tiny_src.safetensors")
