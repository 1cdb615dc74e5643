"""DiffFit: γ scales each residual branch, starts at the identity and folds into a stock timm model."""
import copy

import pytest
import torch

import visadapt.adapters.difffit  # noqa: F401  (registers "difffit")
from visadapt import adapters as A
from visadapt.registry import ConfigError


def test_identity_at_init(tiny_vit, images):
    backbone = tiny_vit()
    before = backbone(images)
    A.inject(backbone.model, dict(type="difffit"))
    torch.testing.assert_close(backbone(images), before, atol=0, rtol=0)


def test_gamma_scales_the_attention_and_mlp_branches(tiny_vit):
    model = tiny_vit().model
    block = copy.deepcopy(model.blocks[0])
    A.inject(model, dict(type="difffit"))
    g_attn, g_mlp = torch.linspace(0.5, 2.0, 24), torch.linspace(-1.0, 1.0, 24)
    with torch.no_grad():
        model.blocks[0].attn.proj.scale.copy_(g_attn)
        model.blocks[0].mlp.fc2.scale.copy_(g_mlp)
    x = torch.randn(2, 17, 24)
    h = x + g_attn * block.attn(block.norm1(x))
    torch.testing.assert_close(model.blocks[0](x), h + g_mlp * block.mlp(block.norm2(h)))


def test_trainable_set_is_gammas_biases_norms_and_head(tiny_vit):
    model = A.inject(tiny_vit().model, dict(type="difffit", modules_to_save=["head"]))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    gammas = {f"blocks.{i}.{m}.scale" for i in range(2) for m in ("attn.proj", "mlp.fc2")}
    norms = {f"{m}.weight" for m in ("norm", "blocks.0.norm1", "blocks.0.norm2", "blocks.1.norm1", "blocks.1.norm2")}
    biases = {n for n, _ in model.named_parameters() if n.endswith(".bias")}
    assert trainable == gammas | norms | biases | {"head.weight"}
    assert "blocks.0.attn.proj.base_layer.bias" in biases and "patch_embed.proj.bias" in biases
    # gammas 4*24, biases 24 + 2*264 + 24, norm weights 5*24, head 24*5 + 5
    assert A.count_parameters(model)["trainable"] == 96 + 576 + 120 + 125

    scalar = A.inject(tiny_vit().model, dict(type="difffit", per_channel=False, train_bias=False, train_norm=False))
    assert {n for n, p in scalar.named_parameters() if p.requires_grad} == gammas
    assert A.count_parameters(scalar)["trainable"] == 4


def test_gamma_init_must_be_positive():
    with pytest.raises(ConfigError, match="gamma_init must be > 0, got 0"):
        A.inject(torch.nn.Linear(2, 2), dict(type="difffit", gamma_init=0))
