"""Every backbone wrapper honours the same contract; weights load safely from local files."""
from __future__ import annotations

import pytest
import torch

from tests.conftest import TINY_KWARGS
from visadapt.adapters import match_targets
from visadapt.backbones import Backbone, TimmBackbone, read_metadata
from visadapt.registry import ConfigError

BACKBONE_CASES = {
    "vit": lambda: TimmBackbone("vit_tiny_patch16_224", num_classes=4, **TINY_KWARGS),
    "resnet": lambda: TimmBackbone("resnet18", num_classes=4),
}


@pytest.mark.parametrize("case", list(BACKBONE_CASES))
def test_contract(case, images):
    torch.manual_seed(0)
    backbone = BACKBONE_CASES[case]().eval()
    assert isinstance(backbone, Backbone)
    logits = backbone(images)
    assert logits.shape == (len(images), 4)
    assert backbone.forward_features(images).shape == (len(images), backbone.num_features)
    assert backbone.classifier_name in dict(backbone.model.named_modules())
    # Normalisation lives in the wrapper, outside the upstream state dict.
    assert set(backbone.state_dict()) == {f"model.{k}" for k in backbone.model.state_dict()}
    torch.testing.assert_close(backbone.model(backbone.normalize(images)), logits)
    for patterns in backbone.target_presets.values():
        assert match_targets(backbone.model, patterns)  # every preset names real injection points


def test_save_pretrained_round_trip_and_head_swap(tmp_path, images):
    torch.manual_seed(0)
    source = TimmBackbone("vit_tiny_patch16_224", num_classes=7, mean=(0.1, 0.2, 0.3), std=(1, 2, 3),
                          **TINY_KWARGS).eval()
    path = source.save_pretrained(tmp_path / "src.safetensors", note="hello")
    meta = read_metadata(path)
    assert meta["architecture"] == "vit_tiny_patch16_224" and meta["model_kwargs"] == TINY_KWARGS
    assert meta["note"] == "hello" and meta["num_classes"] == 7
    # Architecture and normalisation come from the file; the head is dropped when the class count changes.
    same = TimmBackbone("vit_tiny_patch16_224", pretrained=path, num_classes=7).eval()
    torch.testing.assert_close(same(images), source(images))
    new_head = TimmBackbone("vit_tiny_patch16_224", pretrained=path, num_classes=3).eval()
    torch.testing.assert_close(new_head.forward_features(images), source.forward_features(images))
    assert new_head.model.head.out_features == 3


def test_torch_file_loads_weights_only(tmp_path, images):
    torch.manual_seed(0)
    source = TimmBackbone("vit_tiny_patch16_224", num_classes=0, **TINY_KWARGS).eval()
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": source.model.state_dict()}, path)
    loaded = TimmBackbone("vit_tiny_patch16_224", pretrained=path, num_classes=0, **TINY_KWARGS).eval()
    torch.testing.assert_close(loaded(images), source(images))
    evil = tmp_path / "evil.pth"
    torch.save({"state_dict": source.model.state_dict(), "code": print}, evil)  # needs unpickling a function
    with pytest.raises(ValueError, match=r"evil.pth: holds arbitrary Python objects \(print\)"):
        TimmBackbone("vit_tiny_patch16_224", pretrained=evil, **TINY_KWARGS)


def test_missing_or_mismatched_weights_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing.safetensors.*Model-zoo entries"):
        TimmBackbone("vit_tiny_patch16_224", pretrained=tmp_path / "nothing.safetensors", **TINY_KWARGS)
    path = TimmBackbone("vit_tiny_patch16_224", **TINY_KWARGS).save_pretrained(tmp_path / "two.safetensors")
    for num_classes in (0, 5):  # timm loads strictly only when the head is kept; both cases must fail
        with pytest.raises(ConfigError, match=r"(?s)two.safetensors do not .*blocks\.2\.norm1"):
            TimmBackbone("vit_tiny_patch16_224", pretrained=path, depth=3, num_classes=num_classes)
    with pytest.raises(ConfigError, match="weights are for architecture 'vit_tiny_patch16_224'"):
        TimmBackbone("vit_small_patch16_224", pretrained=path)
