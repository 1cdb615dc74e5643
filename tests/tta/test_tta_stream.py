"""Stream order and reset semantics on tiny fake data; online error computation on a hand case."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from visadapt.data.base import ImageDataset
from visadapt.data.corruptions import CORRUPTIONS
from visadapt.registry import ConfigError
from visadapt.tta.evaluation import error_rate, format_table, run_stream
from visadapt.tta.stream import GRADUAL_FIRST, GRADUAL_LATER, Stream, StreamSpec


class FakeBase(ImageDataset):
    """``n`` grey 8x8 images; label ``i % num_classes``."""

    def __init__(self, n: int = 12, num_classes: int = 4):
        super().__init__()
        self.n, self.num_classes = n, num_classes
        self.class_names = [str(c) for c in range(num_classes)]

    @property
    def num_items(self) -> int:
        return self.n

    def load(self, idx: int):
        return np.full((8, 8, 3), 10 * idx % 256, dtype=np.uint8), idx % self.num_classes


class Spy(nn.Module):
    """Predicts class ``predict`` for every image; records at which batch ``reset()`` was called."""

    def __init__(self, num_classes: int = 4, predict: int = 0):
        super().__init__()
        self.num_classes, self.predict, self.calls, self.resets = num_classes, predict, 0, []

    def reset(self):
        self.resets.append(self.calls)

    def forward(self, x):
        assert not torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
        self.calls += 1
        logits = torch.zeros(x.shape[0], self.num_classes)
        logits[:, self.predict] = 1.0
        return logits


def stream(n=12, classes=4, **spec):
    spec.setdefault("domains", ["gaussian_noise", "brightness", "contrast"])
    spec.setdefault("batch_size", n)  # the default 64 is larger than these domains
    return Stream(StreamSpec(**spec), base=FakeBase(n, classes))


def test_default_spec_is_the_standard_protocol():
    spec = StreamSpec()
    assert spec.domains == list(CORRUPTIONS) and spec.domains[0] == "gaussian_noise"
    assert spec.domains[-1] == "jpeg_compression" and len(spec.domains) == 15
    assert spec.severities == [5] and spec.order == "sequential" and spec.reset == "never"
    assert spec.protocol()["base"]["type"] == "ShapesDataset"


def test_sequential_domain_sequence_and_batches():
    s = stream(batch_size=5)
    segs = s.segments()
    assert [seg[0][0] for seg in segs] == ["gaussian_noise", "brightness", "contrast"]
    for seg in segs:
        assert sorted(i for _, _, i in seg) == list(range(12)) and {sev for _, sev, _ in seg} == {5}
    batches = list(s)
    # batches never cross a domain: 12 images in batches of 5 -> 5, 5, 2 per domain
    assert [d for d, _, _ in batches] == ["gaussian_noise"] * 3 + ["brightness"] * 3 + ["contrast"] * 3
    assert [len(y) for _, _, y in batches] == [5, 5, 2] * 3 and len(s) == 9
    domain, x, y = batches[0]
    assert x.shape == (5, 3, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.long
    # shuffle_seed shuffles within a domain; None keeps the stored order
    assert [i for _, _, i in stream(shuffle_seed=None).segments()[0]] == list(range(12))
    assert [i for _, _, i in segs[0]] != list(range(12))
    assert [i for _, _, i in stream(batch_size=5).segments()[0]] == [i for _, _, i in segs[0]]


def test_several_severities_are_separate_domains():
    s = stream(severities=[5, 3], domains=["gaussian_noise", "brightness"])
    names = [b.domain for b in s.batches()]
    assert list(dict.fromkeys(names)) == ["gaussian_noise-5", "gaussian_noise-3", "brightness-5", "brightness-3"]


def test_mixed_covers_all_domains_once():
    s = stream(order="mixed", batch_size=6)
    items = s.segments()
    assert len(items) == 1
    expected = {(d, 5, i) for d in ["gaussian_noise", "brightness", "contrast"] for i in range(12)}
    assert sorted(items[0]) == sorted(expected) and len(items[0]) == 36
    batches = list(s.batches())
    assert any(b.domain == "mixed" and len(set(b.sample_domains)) > 1 for b in batches)
    assert sum(len(b.labels) for b in batches) == 36


def label_runs(s: Stream) -> float:
    """Fraction of consecutive pairs with the same label inside each domain."""
    same = total = 0
    for seg in s.segments():
        labels = [s._labels[i] for _, _, i in seg]
        same += sum(a == b for a, b in zip(labels, labels[1:]))
        total += len(labels) - 1
    return same / total


def test_dirichlet_order_is_class_correlated():
    kw = dict(n=400, classes=8, domains=["gaussian_noise", "brightness"])
    uniform = stream(**kw)
    correlated = stream(order="dirichlet", dirichlet_alpha=0.01, **kw)
    near_iid = stream(order="dirichlet", dirichlet_alpha=1000.0, **kw)
    for seg in correlated.segments():
        assert sorted(i for _, _, i in seg) == list(range(400))  # a permutation of the domain
    assert label_runs(uniform) < 0.25  # about 1/8
    assert label_runs(correlated) > 0.8
    assert label_runs(near_iid) < 0.35
    assert correlated.segments() == stream(order="dirichlet", dirichlet_alpha=0.01, **kw).segments()  # seeded


def test_gradual_severity_schedule():
    s = stream(order="gradual", domains=["gaussian_noise", "brightness", "contrast"], batch_size=12)
    sevs = [b.severities[0] for b in s.batches()]
    assert sevs == list(GRADUAL_FIRST) + list(GRADUAL_LATER) * 2
    assert GRADUAL_FIRST == (5, 4, 3, 2, 1) and GRADUAL_LATER == (1, 2, 3, 4, 5, 4, 3, 2, 1)
    assert [b.domain for b in s.batches()] == ["gaussian_noise"] * 5 + ["brightness"] * 9 + ["contrast"] * 9
    with pytest.raises(ConfigError, match="gradual"):
        StreamSpec(order="gradual", severities=[3])


@pytest.mark.parametrize(
    "reset, expected",
    [("never", []), ("domain", [3, 6]), (2, [2, 4, 6, 8]), ("episodic", list(range(9)))],
)
def test_reset_policy_calls_reset_at_the_right_times(reset, expected):
    spy = Spy()
    out = run_stream(spy, stream(batch_size=4, reset=reset), progress=False)  # 3 domains x 3 batches
    assert spy.calls == 9
    assert spy.resets == expected  # number of batches processed before each reset
    assert out["num_resets"] == len(expected)


def test_errors_hand_case():
    logits = torch.tensor([[2.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    assert error_rate(logits, torch.tensor([0, 1, 1, 1])) == 25.0
    # labels i % 4 over 12 images; always predicting class 1 -> 9/12 wrong in every domain
    out = run_stream(Spy(predict=1), stream(batch_size=5, shuffle_seed=None), progress=False)
    assert out["errors"] == {"gaussian_noise": 75.0, "brightness": 75.0, "contrast": 75.0}
    assert out["mean_error"] == 75.0 and out["num_images"] == 36
    assert [b["size"] for b in out["batches"]] == [5, 5, 2] * 3
    # stored order, predicting 1: labels 0,1,2,3,0 | 1,2,3,0,1 | 2,3
    assert [b["error"] for b in out["batches"][:3]] == [80.0, 60.0, 100.0]
    assert out["images_per_s"] > 0 and out["wall_seconds"] > 0
    table = format_table(out["errors"], out["mean_error"])
    assert "gaussian_noise" in table and "mean" in table and "75.00" in table


def test_per_domain_errors_with_mixed_order():
    out = run_stream(Spy(predict=0), stream(order="mixed", batch_size=7), progress=False)
    assert set(out["errors"]) == {"gaussian_noise", "brightness", "contrast"}
    assert all(e == 75.0 for e in out["errors"].values())  # class 0 is right on 3 of each domain's 12


@pytest.mark.parametrize(
    "spec, match",
    [
        (dict(order="random"), "unknown order"),
        (dict(reset="sometimes"), "reset"),
        (dict(reset=0), "reset"),
        (dict(order="mixed", reset="domain"), "domain boundaries"),
        (dict(domains=["gaussian_noise", "rain"]), "unknown domain"),
        (dict(severities=[6]), "severities"),
        (dict(batch_size=0), "batch_size"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(ConfigError, match=match):
        StreamSpec(**spec)


def test_unknown_key_lists_valid_ones():
    with pytest.raises(ConfigError, match="valid keys: domains, severities"):
        StreamSpec.from_config(dict(domain=["fog"]))
    with pytest.raises(ConfigError, match="only 12"):
        Stream(StreamSpec(samples_per_domain=13), base=FakeBase())
