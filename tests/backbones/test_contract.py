"""Every backbone wrapper honours the same contract; weights load safely from local files."""
from __future__ import annotations

import pytest
import torch

from tests.conftest import TINY_KWARGS
from visadapt.adapters import match_targets
from visadapt.backbones import Backbone, ImageEncoder, TimmBackbone, read_metadata
from visadapt.registry import ConfigError

def _clip():
    from tests.backbones.test_clip import TINY_CLIP
    from visadapt.backbones import OpenCLIPBackbone

    return OpenCLIPBackbone(model_cfg=TINY_CLIP, class_names=["a", "b", "c", "d"]), TINY_CLIP["vision_cfg"]["image_size"]


def _sam():
    from tests.backbones.test_sam import TINY
    from visadapt.backbones import SAMBackbone

    return SAMBackbone(**TINY), TINY["image_size"]


# Every backbone kind, as timm's own model tests run over every model: (builder -> (backbone, input size)).
BACKBONE_CASES = {
    "vit": lambda: (TimmBackbone("vit_tiny_patch16_224", num_classes=4, **TINY_KWARGS), 16),
    "resnet": lambda: (TimmBackbone("resnet18", num_classes=4), 16),
    "clip": _clip,
    "sam": _sam,
}


@pytest.mark.parametrize("case", list(BACKBONE_CASES))
def test_contract(case, tmp_path):
    """Backbone: the adapted model is the upstream model, unmodified (the wrapper adds no persistent state), and
    its presets name real injection points; ImageEncoder: images in [0, 1], normalisation inside, pooled
    features of ``num_features``; save_pretrained writes what the same class loads back."""
    if case in ("clip", "sam"):
        pytest.importorskip({"clip": "open_clip", "sam": "segment_anything"}[case])
    torch.manual_seed(0)
    backbone, size = BACKBONE_CASES[case]()
    backbone.eval()
    images = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    assert isinstance(backbone, Backbone) and isinstance(backbone, ImageEncoder)
    assert backbone.adapted_model is backbone.model
    assert set(backbone.state_dict()) == {f"model.{k}" for k in backbone.model.state_dict()}
    for patterns in backbone.target_presets.values():
        assert match_targets(backbone.adapted_model, patterns)  # every preset names real injection points
    features = backbone.forward_features(images)
    assert features.shape == (len(images), backbone.num_features) and torch.isfinite(features).all()
    shifted = backbone.forward_features(images * 0.5)  # images enter in [0, 1]; normalisation is the wrapper's
    assert not torch.allclose(shifted, features)
    if backbone.classifier_name is not None:
        assert backbone.classifier_name in dict(backbone.model.named_modules())
        torch.testing.assert_close(backbone.model(backbone.normalize(images)), backbone(images))
    saved = backbone.save_pretrained(tmp_path / f"{case}{backbone.zoo_suffix}")
    assert saved.exists()


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
