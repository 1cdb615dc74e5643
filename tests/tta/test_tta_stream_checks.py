"""Bad stream / source input fails early with one line naming the key and the valid values."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from visadapt.registry import ConfigError
from visadapt.tta.config import build_from_config
from visadapt.tta.stream import Stream, StreamSpec

from tests.tta.test_tta_stream import FakeBase


@pytest.mark.parametrize(
    "spec, match",
    [
        (dict(domains=["gaussian_noise", "rain"]), "unknown domain.*'rain'; valid: gaussian_noise, shot_noise"),
        (dict(severities=[0, 5]), "'severities' must be a non-empty list of ints in 1..5"),
        (dict(order="dirichlet", dirichlet_alpha=0.0), "'dirichlet_alpha' must be > 0, got 0.0"),
    ],
)
def test_bad_spec_is_one_line(spec, match):
    with pytest.raises(ConfigError, match=match) as err:
        StreamSpec(**spec)
    assert "\n" not in str(err.value)


def test_batch_larger_than_a_domain():
    with pytest.raises(ConfigError, match=r"'batch_size' 13 is larger than a domain \(12 images.*valid: 1..12"):
        Stream(StreamSpec(batch_size=13), base=FakeBase())
    with pytest.raises(ConfigError, match="valid: 1..8"):
        Stream(StreamSpec(batch_size=9, samples_per_domain=8), base=FakeBase())
    assert len(Stream(StreamSpec(batch_size=12, domains=["fog"]), base=FakeBase())) == 1


def test_source_whose_classes_differ_from_the_stream(weights):
    cfg = Config(dict(
        backbone=dict(type="TimmBackbone", name="vit_tiny_patch16_224", pretrained=str(weights)),
        method=dict(type="source"),
        stream=dict(base=dict(type="ShapesDataset", task="texture", split="test", image_size=16),
                    domains=["fog"], samples_per_domain=8, batch_size=8),
        device="cpu",
    ))
    with pytest.raises(ConfigError, match="has a 8-class head but the stream's base dataset has 4 classes"):
        build_from_config(cfg)
    cfg.stream.base.task = "shape"  # 8 classes: builds
    method, stream = build_from_config(cfg)
    assert stream.num_classes == 8
