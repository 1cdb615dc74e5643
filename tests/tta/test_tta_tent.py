"""TENT: one SGD step equals a hand-computed entropy-gradient step on the norm affine params only."""
import copy

import pytest
import torch
from torch import nn

from visadapt.tta import Tent, build_tta_method


def tiny(norm: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), norm, nn.Linear(4, 2))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 1.0)  # non-trivial affine params too
    return model


def manual_entropy(logits):
    p = torch.softmax(logits, 1)
    return -(p * torch.log(p)).sum(1).mean()


@pytest.mark.parametrize("norm", [lambda: nn.LayerNorm(4), lambda: nn.BatchNorm1d(4)])
def test_one_sgd_step_matches_hand_gradient(norm):
    model = tiny(norm())
    reference = copy.deepcopy(model).train()  # train-mode BN == batch statistics
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(3))
    before = {k: v.clone() for k, v in model.state_dict().items()}

    tta = Tent(model, optimizer=dict(type="SGD", lr=0.1))
    out = tta(x)

    # expected: gradient of the mean entropy w.r.t. the norm weight/bias only, computed on the reference copy
    logits = reference(x)
    torch.testing.assert_close(out, logits.detach())  # the returned prediction is the pre-update one
    loss = manual_entropy(logits)
    g_w, g_b = torch.autograd.grad(loss, [reference[1].weight, reference[1].bias])
    after = model.state_dict()
    torch.testing.assert_close(after["1.weight"], before["1.weight"] - 0.1 * g_w)
    torch.testing.assert_close(after["1.bias"], before["1.bias"] - 0.1 * g_b)
    assert not torch.equal(after["1.weight"], before["1.weight"])
    for k in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert torch.equal(after[k], before[k]), k
    assert [id(p) for p in tta.params] == [id(model[1].weight), id(model[1].bias)]


def test_batchnorm_uses_batch_statistics_in_eval_mode():
    model = tiny(nn.BatchNorm1d(4))
    with torch.no_grad():
        model[1].running_mean.fill_(100.0)  # would dominate if the running stats were used
    tta = Tent(model, optimizer=dict(type="SGD", lr=0.0))
    tta.eval()  # a runner switching modes must not matter
    x = torch.randn(6, 3)
    h = model[0](x)
    expected = model[2](model[1].weight * (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + 1e-5) + model[1].bias)
    torch.testing.assert_close(tta(x), expected.detach())
    assert model[1].running_mean is None


def test_segmentation_logits_use_per_pixel_entropy():
    conv = nn.Sequential(nn.Conv2d(3, 4, 1), nn.GroupNorm(2, 4), nn.Conv2d(4, 3, 1))
    reference = copy.deepcopy(conv)
    tta = Tent(conv, optimizer=dict(type="SGD", lr=0.5))
    x = torch.randn(2, 3, 4, 5)
    out = tta(x)
    assert out.shape == (2, 3, 4, 5)
    z = reference(x)
    p = z.softmax(1)
    loss = -(p * z.log_softmax(1)).sum(1).mean()
    g = torch.autograd.grad(loss, reference[1].weight)[0]
    torch.testing.assert_close(conv[1].weight, reference[1].weight - 0.5 * g)


def test_tent_on_tiny_vit_changes_only_norm_params(tiny_vit, images):
    model = tiny_vit()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tta = build_tta_method(model, dict(type="tent", optimizer=dict(type="SGD", lr=1.0)))
    out = tta(images)
    assert out.shape == (3, 5) and torch.isfinite(out).all()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(".norm" in k or k.startswith("model.norm") for k in changed), changed
    assert all(k.endswith(("weight", "bias")) for k in changed)


def test_inference_mode_is_refused(tiny_vit, images):
    tta = build_tta_method(tiny_vit(), dict(type="tent"))
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference mode"):
        tta(images)
    with torch.no_grad():  # an evaluation loop under no_grad is fine (enable_grad inside)
        tta(images)
