"""SSF: the scale-shift numerics, its merge into Linear / LayerNorm / Conv2d, and the paper's placements and init."""
import pytest
import torch
from torch import nn

import visadapt.adapters.ssf  # noqa: F401  (registers "ssf")
from visadapt import adapters as A
from visadapt.adapters.ssf import ScaleShift
from visadapt.registry import ConfigError


def test_linear_by_hand_and_merged_weights():
    model = nn.Sequential(nn.Linear(2, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        model[0].bias.copy_(torch.tensor([1.0, -1.0]))
    A.inject(model, dict(type="ssf", target_modules=["0"]))
    with torch.no_grad():
        model[0].scale.copy_(torch.tensor([2.0, 0.5]))
        model[0].shift.copy_(torch.tensor([0.1, 0.2]))
    x = torch.tensor([[1.0, 1.0]])
    torch.testing.assert_close(model(x), torch.tensor([[8.1, 3.2]]))  # base [4, 6] -> [2*4+0.1, 0.5*6+0.2]
    A.merge(model)
    assert type(model[0]) is nn.Linear
    torch.testing.assert_close(model[0].weight, torch.tensor([[2.0, 4.0], [1.5, 2.0]]))
    torch.testing.assert_close(model[0].bias, torch.tensor([2.1, -0.3]))


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: nn.Linear(5, 4), (2, 7, 5)),
        (lambda: nn.Linear(5, 4, bias=False), (2, 7, 5)),
        (lambda: nn.LayerNorm(4), (2, 7, 4)),
        (lambda: nn.LayerNorm(4, elementwise_affine=False), (2, 7, 4)),
        (lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 5, 5)),
        (lambda: nn.Conv2d(3, 4, 1, bias=False), (2, 3, 5, 5)),
    ],
)
def test_scale_shift_per_output_channel_and_merge(make, shape):
    torch.manual_seed(0)
    model = nn.Sequential(make())
    A.inject(model, dict(type="ssf", target_modules=["0"]))
    layer = model[0]
    x = torch.randn(shape)
    channel = (1, -1, 1, 1) if isinstance(layer.base_layer, nn.Conv2d) else (-1,)
    expected = layer.base_layer(x) * layer.scale.view(channel) + layer.shift.view(channel)
    torch.testing.assert_close(model(x), expected)
    A.merge(model)
    assert type(model[0]) is type(layer.base_layer)
    assert model[0].bias is not None  # created where the base had none, so that the shift has a home
    torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=0)


def test_default_placements_follow_the_paper(tiny_vit):
    token = A.inject(tiny_vit().model, dict(type="ssf"))
    wrapped = [n for n, m in token.named_modules() if isinstance(m, ScaleShift)]
    per_block = ["norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2"]
    blocks = [f"blocks.{i}.{m}" for i in range(2) for m in per_block]
    assert sorted(wrapped) == sorted(["patch_embed.proj", *blocks, "norm"])  # Identity slots are skipped
    avg = A.inject(tiny_vit(global_pool="avg").model, dict(type="ssf"))
    assert isinstance(avg.fc_norm, ScaleShift) and isinstance(avg.norm, nn.Identity)


def test_paper_init_statistics_and_identity_option(tiny_vit, images):
    model = A.inject(tiny_vit().model, dict(type="ssf", modules_to_save=["head"]))
    layers = [m for m in model.modules() if isinstance(m, ScaleShift)]
    scale = torch.cat([m.scale.detach() for m in layers])
    shift = torch.cat([m.shift.detach() for m in layers])
    assert scale.numel() == shift.numel() == 576  # 24 + 2 * (24 + 72 + 24 + 24 + 96 + 24) + 24 channels
    assert abs(scale.mean() - 1) < 0.005 and abs(shift.mean()) < 0.005
    assert 0.017 < scale.std() < 0.023 and 0.017 < shift.std() < 0.023
    assert A.count_parameters(model)["trainable"] == 2 * 576 + 24 * 5 + 5

    backbone = tiny_vit()
    before = backbone(images)
    A.inject(backbone.model, dict(type="ssf", init="identity"))
    torch.testing.assert_close(backbone(images), before, atol=0, rtol=0)


def test_bad_configs_and_non_finite_merge():
    with pytest.raises(ConfigError, match="init must be one of .*got 'zeros'"):
        A.inject(nn.Sequential(nn.Linear(2, 2)), dict(type="ssf", init="zeros", target_modules=["0"]))
    with pytest.raises(ConfigError, match="nn.Linear, nn.LayerNorm or nn.Conv2d.*GELU"):
        A.inject(nn.Sequential(nn.GELU()), dict(type="ssf", target_modules=["0"]))
    model = A.inject(nn.Sequential(nn.Linear(2, 2)), dict(type="ssf", target_modules=["0"]))
    with torch.no_grad():
        model[0].shift.fill_(float("inf"))
    with pytest.raises(ValueError, match="non-finite"):
        A.merge(model)
