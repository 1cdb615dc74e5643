"""LoRA numerics on hand-checkable cases."""
import math

import pytest
import torch
from torch import nn

from visadapt import adapters as A
from visadapt.registry import ConfigError


class Fused(nn.Module):
    def __init__(self, dim=2):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)


def test_whole_projection_delta_is_scaled_BA():
    model = Fused()
    A.inject(model, dict(type="lora", r=1, alpha=2, target_modules=["qkv"]))
    layer = model.qkv
    with torch.no_grad():
        layer.lora_A.copy_(torch.tensor([[[1.0, 2.0]]]))              # A: 1x2
        layer.lora_B.copy_(torch.arange(6.0).view(1, 6, 1))          # B: 6x1
    x = torch.tensor([[1.0, 1.0]])
    base = layer.base_layer(x)
    # A x = 3, scale alpha/r = 2, so the delta is 2 * 3 * [0..5].
    torch.testing.assert_close(model.qkv(x) - base, 6.0 * torch.arange(6.0).view(1, 6))


def test_qv_slices_leave_k_untouched_and_merge_into_the_right_rows():
    model = Fused()
    A.inject(model, dict(type="lora", r=1, alpha=1, qkv_slices=["q", "v"], target_modules=["qkv"]))
    layer = model.qkv
    assert layer.lora_A.shape == (2, 1, 2) and layer.lora_B.shape == (2, 2, 1)
    with torch.no_grad():
        layer.lora_A.fill_(1.0)
        layer.lora_B[0].fill_(1.0)    # q
        layer.lora_B[1].fill_(-2.0)   # v
    x = torch.tensor([[0.5, 1.5]])    # A x = 2
    delta = model.qkv(x) - layer.base_layer(x)
    torch.testing.assert_close(delta, torch.tensor([[2.0, 2.0, 0.0, 0.0, -4.0, -4.0]]))
    expected = model.qkv(x)
    A.merge(model)
    assert isinstance(model.qkv, nn.Linear)
    torch.testing.assert_close(model.qkv(x), expected)


def test_rslora_scale_and_kaiming_init_of_A():
    model = Fused(dim=16)
    A.inject(model, dict(type="lora", r=4, alpha=1, use_rslora=True, target_modules=["qkv"]))
    assert model.qkv.scale == pytest.approx(1 / math.sqrt(4))
    bound = 1 / math.sqrt(16)  # kaiming_uniform(a=sqrt 5) on fan_in 16, as nn.Linear(16, r)
    assert model.qkv.lora_A.abs().max() <= bound and model.qkv.lora_A.abs().max() > bound / 2
    assert torch.count_nonzero(model.qkv.lora_B) == 0


def test_bad_configs_name_the_value():
    with pytest.raises(ConfigError, match="qkv_slices"):
        A.inject(Fused(), dict(type="lora", qkv_slices=["q", "x"], target_modules=["qkv"]))
    with pytest.raises(ConfigError, match="unknown argument.*'rank'.*Accepted: .*, r, alpha"):
        A.inject(Fused(), dict(type="lora", rank=4, target_modules=["qkv"]))
    with pytest.raises(ConfigError, match="nn.Linear"):
        A.inject(nn.Sequential(nn.Conv2d(1, 1, 1)), dict(type="lora", target_modules=["0"]))


def test_merge_refuses_non_finite_update():
    model = Fused()
    A.inject(model, dict(type="lora", r=1, target_modules=["qkv"]))
    with torch.no_grad():
        model.qkv.lora_B.fill_(float("nan"))
    weight = model.qkv.base_layer.weight.clone()
    with pytest.raises(ValueError, match="non-finite"):
        A.merge(model)
    torch.testing.assert_close(model.qkv.base_layer.weight, weight)
