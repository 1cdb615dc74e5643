"""SAR: reliable-sample filter, the SAM two-step update, collapse detection and reset."""
import copy
import math

import torch
from torch import nn

from visadapt.tta import SAR, build_tta_method
from visadapt.tta.base import name_matches

C = 3
E0 = 0.4 * math.log(C)


def tiny():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, C))
    with torch.no_grad():
        model[2].weight.mul_(4.0)
    return model


def ent(z):
    return -(z.softmax(1) * z.log_softmax(1)).sum(1)


def test_sam_two_step_update_by_hand():
    model = tiny()
    ref = copy.deepcopy(model)
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(2))
    rho, lr = 0.5, 0.2
    tta = SAR(model, rho=rho, optimizer=dict(type="SGD", lr=lr))
    out = tta(x)

    params = [ref[1].weight, ref[1].bias]
    theta0 = [p.detach().clone() for p in params]
    z = ref(x)
    torch.testing.assert_close(out, z.detach())
    h = ent(z)
    keep1 = h.detach() < E0
    assert 0 < int(keep1.sum()) < len(x)  # the reliability filter is active on this batch
    g = torch.autograd.grad(h[keep1].mean(), params)
    norm = torch.sqrt(sum((gi**2).sum() for gi in g))
    with torch.no_grad():  # perturb: theta + rho * g / ||g||
        for p, gi in zip(params, g):
            p.add_(rho * gi / norm)
    h2 = ent(ref(x))[keep1]
    keep2 = h2.detach() < E0
    assert int(keep2.sum()) > 0
    g2 = torch.autograd.grad(h2[keep2].mean(), params)
    for p, p0, gi in zip([model[1].weight, model[1].bias], theta0, g2):
        torch.testing.assert_close(p.detach(), p0 - lr * gi)
    # not a plain entropy step: the gradient at the perturbed point differs
    assert not torch.allclose(g2[0], g[0])
    assert tta.ema == float(h2[keep2].mean().detach())
    # other params untouched
    assert torch.equal(model[0].weight, tiny()[0].weight) and torch.equal(model[2].weight, tiny()[2].weight)


def test_collapse_detection_resets():
    model = tiny()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    tta = SAR(model, reset_constant_em=10.0, optimizer=dict(type="SGD", lr=0.5, momentum=0.9))
    tta(torch.randn(10, 3, generator=torch.Generator().manual_seed(2)))
    assert tta.num_resets == 1 and tta.ema is None and not tta.optimizer.state
    for k, v in model.state_dict().items():
        assert torch.equal(v, start[k]), k
    # with the default threshold 0.2 and a moving average above it, no reset
    tta2 = SAR(tiny(), optimizer=dict(type="SGD", lr=0.5))
    tta2.ema = 5.0
    tta2(torch.randn(10, 3, generator=torch.Generator().manual_seed(2)))
    assert tta2.num_resets == 0 and tta2.ema > 0.2


def test_excluded_top_layers_on_tiny_vit(tiny_vit, images):
    model = tiny_vit()
    tta = build_tta_method(model, dict(type="sar"))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "model.blocks.0.norm1.weight" in trainable and "model.norm.weight" not in trainable
    assert tta(images).shape == (3, 5)
    assert name_matches("model.blocks.9.norm1", ["blocks.9"])
    assert not name_matches("model.blocks.19.norm1", ["blocks.9"])
    assert not name_matches("model.blocks.0.norm1", ["norm"])
