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


def test_same_module_twice_is_an_error(tiny_vit):
    from visadapt.registry import ConfigError

    model = tiny_vit().model
    A.inject(model, dict(type="lora"))
    with pytest.raises(ConfigError, match="already wraps a lora"):
        A.inject(model, dict(type="lora"))
