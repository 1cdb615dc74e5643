"""The "wisdom of crowds" filter: hand case, original-model output without a copy, plug-in into tent/eta/sar."""
import copy
import math

import torch
from torch import nn

from visadapt.tta import WisdomOfCrowdsFilter, build_tta_method


def sig(a):
    return 1 / (1 + math.exp(-a))


def test_mask_by_hand():
    original = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    adapted = torch.tensor([[3.0, 0.0], [0.0, 0.5], [1.2, 1.0]])
    # row 0: class 0, sig(3) >= sig(2) keep; row 1: class 1, sig(0.5) < sig(1) drop;
    # row 2: tie -> class 0 (first), sig(0.2) >= 0.5 keep
    assert sig(3) >= sig(2) and sig(0.5) < sig(1) and sig(0.2) >= 0.5
    assert WisdomOfCrowdsFilter.mask(adapted, original).tolist() == [True, False, True]
    assert WisdomOfCrowdsFilter.mask(original, original).all()  # first batch: everything passes


def test_diversity_term():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    m = logits.softmax(1).mean(0)
    h_mean = float(-(m * m.log()).sum())
    torch.testing.assert_close(WisdomOfCrowdsFilter(0.5).extra_loss(logits, None), torch.tensor(-0.5 * h_mean))
    assert WisdomOfCrowdsFilter().extra_loss(logits, None) is None


def tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 3))


def test_tent_with_filter_selects_by_hand():
    model = tiny()
    source = copy.deepcopy(model)
    x1 = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    x2 = torch.randn(6, 3, generator=torch.Generator().manual_seed(1))
    tta = build_tta_method(model, dict(type="tent", woc=True, optimizer=dict(type="SGD", lr=2.0)))
    plain = build_tta_method(copy.deepcopy(model), dict(type="tent", optimizer=dict(type="SGD", lr=2.0)))
    tta(x1), plain(x1)  # first batch: all samples pass -> same as plain tent
    torch.testing.assert_close(model[1].weight, plain.model[1].weight)
    # the original model's output comes from the initial params, without a model copy
    torch.testing.assert_close(tta.original_forward(x2), source(x2))
    assert set(tta._snapshot) == {"model"}
    # second batch: loss = mean entropy over the filtered samples
    manual = copy.deepcopy(model)
    z = manual(x2)
    z_o = source(x2)
    cls = z_o.argmax(1)
    keep = z.softmax(1).gather(1, cls[:, None])[:, 0] >= z_o.softmax(1).gather(1, cls[:, None])[:, 0]
    assert 0 < int(keep.sum()) < 6
    h = -(z.softmax(1) * z.log_softmax(1)).sum(1)
    g = torch.autograd.grad(h[keep].mean(), manual[1].weight)[0]
    tta(x2)
    torch.testing.assert_close(model[1].weight, manual[1].weight - 2.0 * g)


def test_filter_plugs_into_eta_and_sar(tiny_vit, images):
    cfgs = (
        dict(type="eta", woc=True),
        dict(type="sar", woc=dict(diversity_weight=0.5)),
        dict(type="eata", woc=True, fisher_data=[images]),
    )
    for cfg in cfgs:
        tta = build_tta_method(tiny_vit(), cfg)
        assert tta.woc is not None
        for _ in range(2):
            out = tta(images)
        assert out.shape == (3, 5) and torch.isfinite(out).all()
