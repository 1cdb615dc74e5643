"""LAME: affinities and the fixed point on a 4-sample batch, checked against hand iterations."""
import math

import pytest
import torch
from torch import nn

from visadapt.registry import ConfigError
from visadapt.tta import LAME, build_tta_method, knn_affinity, rbf_affinity

FEATS = torch.tensor([[1.0, 0.0], [math.cos(0.3), math.sin(0.3)], [0.0, 1.0], [math.sin(0.2), math.cos(0.2)]])
PROBS = [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]]
PARTNER = {0: 1, 1: 0, 2: 3, 3: 2}  # k=1 nearest neighbours


class Split(nn.Module):
    """x = [features | logits]; forward returns the logits."""

    def forward(self, x):
        return x[:, 2:]


def batch():
    return torch.cat([FEATS, torch.log(torch.tensor(PROBS))], 1)


def lame(**kw):
    return LAME(Split(), features_fn=lambda x: x[:, :2], **kw)


def softmax(v):
    e = [math.exp(a - max(v)) for a in v]
    return [a / sum(e) for a in e]


def test_knn_affinity_k1():
    expected = torch.zeros(4, 4)
    for i, j in PARTNER.items():
        expected[i, j] = 1
    assert torch.equal(knn_affinity(FEATS, 1), expected)


def test_one_iteration_closed_form():
    # y_i = softmax(log p_i + W_i . Y0), Y0 = p (up to the 1e-10 of the unary): y_ik ∝ p_ik * exp(p_jk)
    out = lame(affinity="knn", knn=1, max_steps=1)(batch())
    for i, j in PARTNER.items():
        hand = softmax([math.log(PROBS[i][k]) + PROBS[j][k] for k in range(3)])
        torch.testing.assert_close(out[i].exp(), torch.tensor(hand), atol=1e-6, rtol=0)


def test_fixed_point_matches_hand_iteration():
    out = lame(affinity="knn", knn=1)(batch()).exp()
    # the pairs decouple: iterate y_a <- softmax(log p_a + y_b), y_b <- softmax(log p_b + y_a) (Jacobi) by hand
    y = [list(p) for p in PROBS]
    for _ in range(100):
        y = [softmax([math.log(PROBS[i][k]) + y[PARTNER[i]][k] for k in range(3)]) for i in range(4)]
    torch.testing.assert_close(out, torch.tensor(y), atol=1e-5, rtol=0)
    # and it is a fixed point of the update
    w = knn_affinity(FEATS, 1)
    torch.testing.assert_close(out, (torch.log(torch.tensor(PROBS)) + w @ out).softmax(1), atol=1e-5, rtol=0)
    # prediction can move towards the neighbour: sample 3 (0.3/0.4/0.3) next to a confident class-2 sample
    assert out[3].argmax() != torch.tensor(PROBS[3]).argmax() or out[3, 2] > PROBS[3][2]


def test_rbf_sigma_faithful_vs_corrected():
    d01, d23 = 2 * math.sin(0.15), 2 * math.sin(0.1)
    sigma = (2 * d01 + 2 * d23) / 4  # k=2 counts the point itself: distance to the nearest other point
    dist = torch.cdist(FEATS, FEATS)
    torch.testing.assert_close(rbf_affinity(FEATS, 2), torch.exp(-dist**2 / (2 * sigma**2)))
    # faithful: the sigma option is ignored (reference quirk); corrected: an explicit sigma is used
    data_driven = torch.exp(-dist**2 / (2 * sigma**2))
    torch.testing.assert_close(lame(knn=2, sigma=0.3, faithful=True).kernel(FEATS), data_driven)
    torch.testing.assert_close(lame(knn=2, sigma=0.3).kernel(FEATS), torch.exp(-dist**2 / (2 * 0.3**2)))
    torch.testing.assert_close(lame(knn=2).kernel(FEATS), torch.exp(-dist**2 / (2 * sigma**2)))


def test_linear_and_symmetry_and_errors():
    torch.testing.assert_close(lame(affinity="linear").kernel(FEATS), FEATS @ FEATS.t())
    w = lame(affinity="knn", knn=2, force_symmetry=True).kernel(FEATS)
    torch.testing.assert_close(w, w.t())
    with pytest.raises(ConfigError, match="affinity"):
        lame(affinity="cosine")


def test_lame_on_tiny_vit(tiny_vit, images):
    model = tiny_vit()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tta = build_tta_method(model, dict(type="lame", knn=2))
    feats, logits = tta.features_and_logits(images)
    torch.testing.assert_close(logits, model(images))  # one forward: head(forward_features) == model(x)
    out = tta(images)
    assert out.shape == (3, 5) and torch.isfinite(out).all()
    torch.testing.assert_close(out.exp().sum(1), torch.ones(3))
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
