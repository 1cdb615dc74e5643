"""ETA/EATA: selection mask, weights, moving average, Fisher, empty selection (no update, no NaN)."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visadapt.registry import ConfigError
from visadapt.tta import EATA, ETA, build_tta_method, eata_selection, update_model_probs

C = 4
E0 = 0.4 * math.log(C)


def entropy(row):
    p = torch.softmax(torch.tensor(row), 0)
    return float(-(p * p.log()).sum())


LOGITS = torch.tensor(
    [
        [8.0, 0.0, 0.0, 0.0],  # confident, class 0
        [0.0, 0.0, 0.0, 0.0],  # uniform: H = ln 4 > E0
        [0.0, 9.0, 0.0, 0.0],  # confident, class 1
        [1.0, 0.5, 0.0, 0.0],  # uncertain
    ]
)


def test_reliability_and_weights_by_hand():
    ent, keep, weights = eata_selection(LOGITS, E0, 0.05, model_probs=None)
    hand = [entropy(r) for r in LOGITS.tolist()]
    torch.testing.assert_close(ent, torch.tensor(hand))
    assert hand[0] < E0 and hand[2] < E0 and hand[1] > E0 and hand[3] > E0
    assert keep.tolist() == [True, False, True, False]
    torch.testing.assert_close(weights, torch.tensor([1 / math.exp(h - E0) for h in hand]))


def test_redundancy_filter_by_hand():
    m = torch.tensor([1.0, 0.0, 0.0, 0.0])  # moving average dominated by class 0
    _, keep, _ = eata_selection(LOGITS, E0, 0.05, model_probs=m)
    # |cos(m, p_0)| ~ 1 -> redundant; |cos(m, p_2)| = p_2[0] / ||p_2|| ~ 1.2e-4 < 0.05 -> kept
    p2 = torch.softmax(LOGITS[2], 0)
    assert float(p2[0] / p2.norm()) < 0.05
    assert keep.tolist() == [False, False, True, False]
    # ... and with d_margin above |cos| of sample 0 it passes again
    assert eata_selection(LOGITS, E0, 1.01, model_probs=m)[1].tolist() == [True, False, True, False]


def test_moving_average_of_probabilities():
    p = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    assert update_model_probs(None, p[:0]) is None
    m = update_model_probs(None, p)
    torch.testing.assert_close(m, torch.tensor([0.75, 0.25]))
    torch.testing.assert_close(update_model_probs(m, p[:1]), 0.9 * m + 0.1 * torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(update_model_probs(m, p[:0]), m)


def tiny(scale=3.0):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, C))
    with torch.no_grad():
        model[2].weight.mul_(scale)
    return model


def test_eta_step_is_weighted_entropy_on_selected_samples():
    model = tiny(scale=6.0)
    reference = copy.deepcopy(model)
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(5))
    tta = ETA(model, optimizer=dict(type="SGD", lr=0.1))
    tta(x)
    z = reference(x)
    p = z.softmax(1)
    h = -(p * z.log_softmax(1)).sum(1)
    keep = h.detach() < E0
    assert 0 < int(keep.sum()) < 8 and tta.num_selected == int(keep.sum())
    loss = (torch.exp(-(h.detach() - E0)) * h)[keep].mean()
    g = torch.autograd.grad(loss, reference[1].weight)[0]
    torch.testing.assert_close(model[1].weight, reference[1].weight - 0.1 * g)
    torch.testing.assert_close(tta.model_probs, p.detach()[keep].mean(0))


def test_empty_selection_no_update_no_nan():
    model = tiny()
    with torch.no_grad():
        model[2].weight.zero_()  # uniform outputs: H = ln C > E0 for every sample
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for cls in ("eta", "sar", "tent"):
        cfg = dict(type=cls, optimizer=dict(type="SGD", lr=1.0, momentum=0.9))
        if cls == "tent":
            cfg["woc"] = True
        tta = build_tta_method(model, cfg)
        if cls == "tent":  # force an empty filter selection
            tta.woc_mask = lambda x, logits: torch.zeros(logits.shape[0], dtype=torch.bool)
        out = tta(torch.randn(5, 3))
        assert torch.isfinite(out).all()
        for k, v in model.state_dict().items():
            assert torch.equal(v, before[k]), (cls, k)
        assert not tta.optimizer.state  # no step taken
    assert tta.num_updates == 1


def test_fisher_from_data_and_regulariser():
    model = tiny(scale=6.0)
    reference = copy.deepcopy(model)
    data = [torch.randn(4, 3, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    sgd = dict(type="SGD", lr=0.1)
    tta = EATA(model, fisher_data=data, fisher_size=10, fisher_alpha=5.0, d_margin=0.9, optimizer=sgd)
    # by hand: mean over batches of squared CE-to-pseudo-label gradients; fisher_size caps the samples (4+4+2)
    expected = torch.zeros(4)
    for x in (data[0], data[1], data[2][:2]):
        z = reference(x)
        g = torch.autograd.grad(F.cross_entropy(z, z.argmax(1)), reference[1].weight)[0]
        expected += g**2
    torch.testing.assert_close(tta.fishers["1.weight"], expected / 3)
    assert model[1].weight.grad is None
    # the regulariser is zero at the source point and pulls back afterwards
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(5))
    tta(x)
    moved = model[1].weight.detach().clone()
    eta = ETA(reference, optimizer=dict(type="SGD", lr=0.1))
    eta(x)
    torch.testing.assert_close(moved, reference[1].weight.detach())  # first step: theta == theta0
    # second step by hand: weighted entropy on the selection (after the redundancy filter) + alpha * F-penalty
    x2 = torch.randn(8, 3, generator=torch.Generator().manual_seed(6))
    manual = copy.deepcopy(model)
    theta0 = {k: v for k, v in tta.source_params().items()}
    m_probs = tta.model_probs.clone()
    tta(x2)
    z = manual(x2)
    p = z.softmax(1)
    h = -(p * z.log_softmax(1)).sum(1)
    keep = (h.detach() < E0) & (F.cosine_similarity(m_probs[None], p.detach(), dim=1).abs() < 0.9)
    assert int(keep.sum()) > 0
    reg = sum(
        (tta.fishers[f"1.{n}"] * (getattr(manual[1], n) - theta0[f"1.{n}"]) ** 2).sum() for n in ("weight", "bias")
    )
    loss = (torch.exp(-(h.detach() - E0)) * h)[keep].mean() + 5.0 * reg
    g = torch.autograd.grad(loss, manual[1].weight)[0]
    torch.testing.assert_close(model[1].weight, manual[1].weight - 0.1 * g)
    # EATA needs a Fisher
    with pytest.raises(ConfigError, match="fisher"):
        EATA(tiny())
    with pytest.raises(ConfigError, match="eata"):
        build_tta_method(tiny(), dict(type="eta", fisher_alpha=1.0))
