"""VPT checked against the prompt insertion and pooling written out by hand."""
import math

import pytest
import torch

import visadapt.adapters.vpt  # noqa: F401  (registers "vpt")
from visadapt import adapters as A
from visadapt.adapters.vpt import PromptedBlock
from visadapt.registry import ConfigError

P = 3  # prompts per block


def _reference(model, images, prompts, pool):
    """Concatenate [CLS] | prompts | patches by hand, replacing the prompt slots at each later prompted block."""
    x = model.norm_pre(model._pos_embed(model.patch_embed(images)))
    for i, block in enumerate(model.blocks):
        if i < len(prompts):
            x = torch.cat([x[:, :1], prompts[i].expand(len(x), -1, -1), x[:, 1 + (P if i else 0):]], dim=1)
        x = (block.base_layer if isinstance(block, PromptedBlock) else block)(x)
    x = model.norm(x)
    pooled = x[:, 0] if pool == "token" else x[:, 1 + P:].mean(dim=1)
    return model.head(model.fc_norm(pooled))


@pytest.mark.parametrize("deep", [False, True])
@pytest.mark.parametrize("pool", ["token", "avg"])
def test_matches_manual_prompting_and_pooling_skips_prompts(deep, pool, tiny_vit, images):
    backbone = tiny_vit(global_pool=pool)
    model = backbone.model
    A.inject(model, dict(type="vpt", num_tokens=P, deep=deep))
    prompted = [b for b in model.blocks if isinstance(b, PromptedBlock)]
    assert [b.insert for b in prompted] == ([True, False] if deep else [True])
    assert model.num_prefix_tokens == 1 + P
    x = backbone.normalize(images)
    expected = _reference(model, x, [b.prompt for b in prompted], pool)
    torch.testing.assert_close(model(x), expected)
    # Dense features drop [CLS] and the prompts: 16 patches on a 4x4 grid.
    assert model.forward_intermediates(x, intermediates_only=True)[-1].shape == (3, 24, 4, 4)


def test_token_count_and_placement_after_register_tokens(tiny_vit, images):
    model = tiny_vit(reg_tokens=2).model
    A.inject(model, dict(type="vpt", num_tokens=P, deep=True))
    seen = []
    for block in model.blocks:
        block.base_layer.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    model(images)
    assert [s.shape[1] for s in seen] == [3 + P + 16] * 2  # [CLS], 2 registers, prompts, 16 patches
    for block, x in zip(model.blocks, seen):
        torch.testing.assert_close(x[:, 3:3 + P], block.prompt.expand(3, -1, -1))
    assert model.num_prefix_tokens == 3 + P


def test_trainable_parameters_are_prompts_and_head(tiny_vit):
    for deep, prompts in ((False, ["blocks.0.prompt"]), (True, ["blocks.0.prompt", "blocks.1.prompt"])):
        model = A.inject(tiny_vit().model, dict(type="vpt", deep=deep, modules_to_save=["head"]))
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        assert trainable == set(prompts) | {"head.weight", "head.bias"}
        assert A.count_parameters(model)["trainable"] == len(prompts) * 10 * 24 + 24 * 5 + 5


def test_init_is_uniform_with_patch_fan_in(tiny_vit):
    model = A.inject(tiny_vit().model, dict(type="vpt", num_tokens=50))
    bound = math.sqrt(6 / (3 * 4 * 4 + 24))  # patch 4x4 on RGB, width 24
    prompt = model.blocks[0].prompt.detach()
    assert prompt.shape == (50, 24)
    assert prompt.abs().max() <= bound and prompt.abs().max() > 0.95 * bound
    assert prompt.abs().mean().item() == pytest.approx(bound / 2, rel=0.1)  # E|U(-v, v)| = v/2


def test_prompt_dropout_only_in_training(tiny_vit, images):
    model = A.inject(tiny_vit().model, dict(type="vpt", num_tokens=P, dropout=0.5))
    seen = []
    model.blocks[0].base_layer.register_forward_pre_hook(lambda m, args: seen.append(args[0][:, 1:1 + P]))
    model.train()(images)
    model.eval()(images)
    prompt = model.blocks[0].prompt
    dropped, kept = seen[0] == 0, torch.isclose(seen[0], 2 * prompt)
    assert (dropped | kept).all() and dropped.any() and kept.any()
    torch.testing.assert_close(seen[1], prompt.expand(3, -1, -1))


def test_save_load_round_trip_rebuilds_prefix_count(tiny_vit, images, tmp_path):
    trained = tiny_vit()
    A.inject(trained.model, dict(type="vpt", num_tokens=P, deep=True, modules_to_save=["head"]))
    with torch.no_grad():
        for p in A.adapter_state_dict(trained.model).values():
            p.add_(torch.randn_like(p))
    A.save_adapter(trained.model, tmp_path)
    fresh = tiny_vit()
    A.load_adapter(fresh.model, tmp_path)
    assert fresh.model.num_prefix_tokens == 1 + P
    torch.testing.assert_close(fresh(images), trained(images), atol=0, rtol=0)


def test_bad_targets_and_values_are_named(tiny_vit):
    with pytest.raises(ConfigError, match="targets must be transformer blocks.*blocks.0.attn"):
        A.inject(tiny_vit().model, dict(type="vpt", target_modules=["blocks.*.attn"]))
    with pytest.raises(ConfigError, match="num_tokens must be >= 1, got 0"):
        A.inject(tiny_vit().model, dict(type="vpt", num_tokens=0))
    with pytest.raises(ConfigError, match="dynamic_img_size"):
        A.inject(tiny_vit(dynamic_img_size=True).model, dict(type="vpt"))
