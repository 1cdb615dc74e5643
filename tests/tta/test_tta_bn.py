"""``source`` and ``bn``: batch statistics, the alpha mix on a BatchNorm2d, reset of running stats."""
import pytest
import torch
from torch import nn

from visadapt.registry import ConfigError
from visadapt.tta import build_tta_method


def bn_model():
    bn = nn.BatchNorm2d(2)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([1.0, -2.0]))
        bn.running_var.copy_(torch.tensor([4.0, 0.25]))
        bn.weight.copy_(torch.tensor([2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.1, -0.3]))
    return nn.Sequential(bn).eval()


def normalise(x, mean, var, bn):
    def v(t):
        return t.view(1, -1, 1, 1)

    return v(bn.weight) * (x - v(mean)) / torch.sqrt(v(var) + bn.eps) + v(bn.bias)


X = torch.randn(4, 2, 3, 3, generator=torch.Generator().manual_seed(0)) * 3 + 1


def test_source_uses_running_statistics():
    model = bn_model()
    tta = build_tta_method(model, dict(type="source"))
    bn = model[0]
    torch.testing.assert_close(tta(X), normalise(X, bn.running_mean, bn.running_var, bn))
    assert tta.optimizer is None and not any(p.requires_grad for p in model.parameters())


def test_bn_uses_test_batch_statistics_and_updates_running_stats():
    model = bn_model()
    tta = build_tta_method(model, dict(type="bn"))
    bn = model[0]
    tta.eval()  # re-asserted per batch
    out = tta(X)
    mean, var = X.mean((0, 2, 3)), X.var((0, 2, 3), unbiased=False)
    torch.testing.assert_close(out, normalise(X, mean, var, bn))
    # running stats: 0.9 * source + 0.1 * batch (unbiased variance, PyTorch convention)
    torch.testing.assert_close(bn.running_mean, 0.9 * torch.tensor([1.0, -2.0]) + 0.1 * mean)
    tta.reset()
    torch.testing.assert_close(bn.running_mean, torch.tensor([1.0, -2.0]), rtol=0, atol=0)
    torch.testing.assert_close(bn.running_var, torch.tensor([4.0, 0.25]), rtol=0, atol=0)


def test_bn_alpha_mix_formula():
    model = bn_model()
    alpha = 0.1
    tta = build_tta_method(model, dict(type="bn", alpha=alpha))
    bn = model[0]
    mean, var = X.mean((0, 2, 3)), X.var((0, 2, 3), unbiased=False)
    mixed_mean = (1 - alpha) * torch.tensor([1.0, -2.0]) + alpha * mean
    mixed_var = (1 - alpha) * torch.tensor([4.0, 0.25]) + alpha * var
    torch.testing.assert_close(tta(X), normalise(X, mixed_mean, mixed_var, bn))
    # source statistics are never updated; state-dict keys are unchanged
    torch.testing.assert_close(bn.running_mean, torch.tensor([1.0, -2.0]), rtol=0, atol=0)
    assert set(model.state_dict()) == set(bn_model().state_dict())
    # alpha = 1 is pure batch statistics
    tta1 = build_tta_method(bn_model(), dict(type="bn", alpha=1.0))
    torch.testing.assert_close(tta1(X), normalise(X, mean, var, bn))


def test_bn_bad_alpha():
    with pytest.raises(ConfigError, match="alpha"):
        build_tta_method(bn_model(), dict(type="bn", alpha=1.5))
    with pytest.raises(ConfigError, match="momentum"):
        build_tta_method(bn_model(), dict(type="bn", momentm=0.1))
