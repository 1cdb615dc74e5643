"""The benchmark's two protocols end to end: the model-zoo sources load by name, and a two-domain run of each
protocol's configs goes through tools/tta.py (CNN: RoTTA on the BatchNorm ResNet-18; ViT: ViDA on the hybrid ViT)."""
from __future__ import annotations

import pytest
import torch

from tests.runner.helpers import ROOT, only_run, results, tool
from visadapt.backbones import TimmBackbone, read_metadata, resolve_weights

SOURCES = {"resnet18_shapes": ("resnet18", 0.98), "vit_tiny_r_shapes": ("vit_tiny_r_s16_p8_224", 0.88)}


@pytest.mark.parametrize("name, arch, accuracy", [(n, *v) for n, v in SOURCES.items()])
def test_source_loads_by_name(name, arch, accuracy):
    meta = read_metadata(resolve_weights(name))
    assert meta["architecture"] == arch and meta["num_classes"] == 8 and meta["metrics"]["test/acc"] >= accuracy
    model = TimmBackbone(arch, pretrained=name, num_classes=8).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32)).shape == (2, 8)


@pytest.mark.parametrize("config", ["rotta_resnet18_shapes_c", "vida_vit_tiny_shapes_c"])
def test_two_domain_smoke_run(tmp_path, config):
    tool("tta", ROOT / "configs" / "tta" / f"{config}.py", "--work-dir", tmp_path, "--cfg-options",
         "stream.domains=[gaussian_noise,fog]", "stream.samples_per_domain=32", "stream.batch_size=16",
         "device=cpu")
    res = results(only_run(tmp_path))
    assert list(res["errors"]) == ["gaussian_noise", "fog"] and res["num_images"] == 64
    assert all(0 <= e <= 100 for e in res["errors"].values())
