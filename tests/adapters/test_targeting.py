"""Targeting by module-name pattern fails loudly and helpfully."""
import pytest

from visadapt import adapters as A


def test_no_match_lists_near_matches(tiny_vit):
    with pytest.raises(A.NoMatchingTargetError, match=r"'blocks\.\*\.attn\.qvk'.*Near matches: blocks\.0\.attn\.qkv"):
        A.inject(tiny_vit().model, dict(type="lora", target_modules=["blocks.*.attn.qvk"]))


def test_regex_and_exclude(tiny_vit):
    model = tiny_vit().model
    names = A.match_targets(model, [r"re:blocks\.\d+\.mlp\.fc\d"], exclude=["blocks.1.*"])
    assert names == ["blocks.0.mlp.fc1", "blocks.0.mlp.fc2"]
    with pytest.raises(A.NoMatchingTargetError, match="after exclude"):
        A.match_targets(model, ["blocks.1.mlp"], exclude=["blocks.1.*"])


def test_unknown_method_lists_registered(tiny_vit):
    from visadapt.registry import ConfigError

    with pytest.raises(ConfigError, match="unknown type 'loar'.*Did you mean 'lora'"):
        A.inject(tiny_vit().model, dict(type="loar"))


def test_stacking_rule(tiny_vit):
    """Stackable layers wrap each other (the later one outside, tensors apart); MoSA and VPT do not stack."""
    from visadapt.registry import ConfigError

    model = tiny_vit().model
    A.inject(model, [dict(type="lora", r=4), dict(type="lora", r=2)])
    outer = model.blocks[0].attn.qkv
    assert outer.lora_A.shape[1] == 2 and outer.base_layer.lora_A.shape[1] == 4
    keys = set(A.adapter_state_dict(model))
    assert {"blocks.0.attn.qkv.lora_A", "blocks.0.attn.qkv.base_layer.lora_A"} <= keys
    model = tiny_vit().model
    A.inject(model, dict(type="mosa", hidden_dim=4))
    with pytest.raises(ConfigError, match="does not stack"):
        A.inject(model, dict(type="adaptformer", hidden_dim=4))
    model = tiny_vit().model
    A.inject(model, dict(type="lora", target_modules=["blocks.0.attn.qkv"]))
    with pytest.raises(ConfigError, match="do not stack"):
        A.inject(model, dict(type="mosa", hidden_dim=4, target_modules=["blocks.0.attn.qkv"], input_from=None))
