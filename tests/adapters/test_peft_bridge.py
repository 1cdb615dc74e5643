"""The HF PEFT bridge: PEFT tuners injected from a visadapt config, merged, and saved in both formats."""
from __future__ import annotations

import sys

import pytest
import torch

peft = pytest.importorskip("peft")
import timm  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from tests.adapters.test_common import PEFT_CASES  # noqa: E402
from tests.conftest import TINY_ARCH, TINY_KWARGS, perturb_adapters  # noqa: E402
from visadapt import adapters as A  # noqa: E402
from visadapt.adapters import peft_bridge as PB  # noqa: E402
from visadapt.registry import ConfigError  # noqa: E402

CASES = PEFT_CASES


def _inject(backbone, case):
    return A.inject(backbone.model, dict(type="peft", modules_to_save=["head"], **CASES[case]))


def _tuner_layers(model):
    from peft.tuners.tuners_utils import BaseTunerLayer

    return [n for n, m in model.named_modules() if isinstance(m, BaseTunerLayer)]


def _stock(base=None):
    """A plain timm ViT (no visadapt), optionally with the weights of ``base`` (a fresh backbone)."""
    model = timm.create_model(TINY_ARCH, num_classes=5, **TINY_KWARGS).eval()
    if base is not None:
        model.load_state_dict(base.model.state_dict())
    return model


# The shared checks (identity at init, trainable set, save/load, merge and strict stock-timm load) run over these
# cases in test_common.py; here: what is specific to the bridge.


@pytest.mark.parametrize("case", list(CASES))
def test_adapter_tensors_are_peft_layers_own_parameters(case, tiny_vit):
    backbone = tiny_vit()
    _inject(backbone, case)
    assert _tuner_layers(backbone.model)
    adapter = set(A.adapter_state_dict(backbone.model)) - {"head.weight", "head.bias"}
    assert adapter and all(".default" in n for n in adapter) and not any("base_layer" in n for n in adapter)
    saved_cfg = A.injected_configs(backbone.model)[0].to_dict()
    assert saved_cfg["type"] == "peft" and saved_cfg["peft_type"] == CASES[case]["peft_type"].upper()


def test_functional_merge_folds_peft_adapters_and_updates_configs(tiny_vit, images):
    backbone = tiny_vit()
    _inject(backbone, "peft_dora")
    perturb_adapters(backbone.model)
    expected = backbone(images)
    A.merge(backbone.model)
    assert A.injected_configs(backbone.model) == [] and not _tuner_layers(backbone.model)
    assert all(p.requires_grad for p in backbone.model.parameters())
    torch.testing.assert_close(backbone(images), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("use_dora", [False, True])
def test_load_directory_saved_by_peft_model(use_dora, tiny_vit, images, tmp_path):
    from peft import LoraConfig, PeftModel

    stock_backbone = tiny_vit()
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["qkv", "fc1"], modules_to_save=["head"], use_dora=use_dora)
    peft_model = PeftModel(stock_backbone.model, config)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in peft_model.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    expected = peft_model(stock_backbone.normalize(images))
    peft_model.save_pretrained(str(tmp_path))

    backbone = tiny_vit()
    PB.load_peft_pretrained(backbone.model, tmp_path)
    cfg = A.injected_configs(backbone.model)[0]
    assert cfg.peft_type == "LORA" and cfg.modules_to_save == ["head"]
    assert cfg.peft_kwargs == {"r": 4, **({"use_dora": True} if use_dora else {})}
    assert len(_tuner_layers(backbone.model)) == 4
    torch.testing.assert_close(backbone(images), expected, atol=0, rtol=0)
    # and what visadapt then saves in its own format round-trips too
    A.save_adapter(backbone.model, tmp_path / "visadapt")
    fresh = tiny_vit()
    A.load_adapter(fresh.model, tmp_path / "visadapt")
    torch.testing.assert_close(fresh(images), expected, atol=0, rtol=0)


@pytest.mark.parametrize("case", ["peft_lora", "peft_dora"])
def test_saved_directory_loads_with_peft_model_from_pretrained(case, tiny_vit, images, tmp_path):
    from peft import LoraConfig, PeftModel

    backbone = tiny_vit()
    _inject(backbone, case)
    perturb_adapters(backbone.model)
    expected = backbone(images)
    PB.save_peft_pretrained(backbone.model, tmp_path / "ours")

    loaded = PeftModel.from_pretrained(_stock(tiny_vit()), str(tmp_path / "ours")).eval()
    torch.testing.assert_close(loaded(backbone.normalize(images)), expected, atol=0, rtol=0)

    # Same keys as PeftModel.save_pretrained writes for the same adapter.
    peft_config = LoraConfig(r=4, lora_alpha=8, use_dora=case == "peft_dora",
                             target_modules=["qkv"], modules_to_save=["head"])
    PeftModel(_stock(), peft_config).save_pretrained(str(tmp_path / "theirs"))
    ours = load_file(str(tmp_path / "ours" / "adapter_model.safetensors"))
    theirs = load_file(str(tmp_path / "theirs" / "adapter_model.safetensors"))
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    assert all(k.startswith("base_model.model.") and ".default" not in k for k in ours)

    # ... and load back into visadapt.
    fresh = tiny_vit()
    PB.load_peft_pretrained(fresh.model, tmp_path / "ours")
    torch.testing.assert_close(fresh(images), expected, atol=0, rtol=0)


def test_peft_format_load_checks_keys(tiny_vit, tmp_path):
    small = tiny_vit()
    _inject(small, "peft_lora")
    PB.save_peft_pretrained(small.model, tmp_path)
    deeper = tiny_vit(depth=3)
    _inject(deeper, "peft_lora")
    with pytest.raises(A.AdapterLoadError, match="missing .*blocks.2.attn.qkv.lora_A"):
        PB.load_peft_pretrained(deeper.model, tmp_path)


def test_unknown_peft_type_lists_valid_names():
    with pytest.raises(ConfigError, match=r"unknown peft_type 'LORRA'.*Valid peft_type values: .*DORA.*IA3.*LORA"):
        A.AdapterConfig.from_dict(dict(type="peft", peft_type="lorra"))


def test_prompt_learning_tuners_are_refused_with_a_reason():
    with pytest.raises(ConfigError, match="prompt-learning"):
        PB.PeftConfig(peft_type="PREFIX_TUNING")


def test_vera_shares_one_projection_and_leaves_it_out_of_exports(tiny_vit, images, tmp_path):
    """VeRA goes through get_peft_model: every layer holds the same frozen A/B; only the scaling vectors train, and
    exports rely on PEFT regenerating A/B from projection_prng_key (save_projection=False)."""
    backbone = tiny_vit()
    _inject(backbone, "peft_vera")
    qkv, fc1 = backbone.model.blocks[0].attn.qkv, backbone.model.blocks[1].mlp.fc1
    assert qkv.vera_A["default"] is fc1.vera_A["default"] and not qkv.vera_A["default"].requires_grad
    assert all("vera_lambda" in k or k.startswith("head.") for k in A.adapter_state_dict(backbone.model))
    assert backbone.model.peft_config["default"].save_projection is False
    perturb_adapters(backbone.model)
    expected = backbone(images)
    PB.save_peft_pretrained(backbone.model, tmp_path)
    from peft import PeftModel

    loaded = PeftModel.from_pretrained(_stock(tiny_vit()), str(tmp_path)).eval()  # PEFT regenerates A/B
    torch.testing.assert_close(loaded(backbone.normalize(images)), expected, atol=0, rtol=0)
    fresh = tiny_vit()
    PB.load_peft_pretrained(fresh.model, tmp_path)
    torch.testing.assert_close(fresh(images), expected, atol=0, rtol=0)
    with pytest.raises(ConfigError, match="implies save_projection=False"):
        PB.PeftConfig(peft_type="VERA", peft_kwargs=dict(save_projection=True))


def test_bad_kwargs_are_config_errors():
    with pytest.raises(ConfigError, match=r"unknown argument\(s\) 'rank'.*Accepted: .*lora_alpha"):
        PB.PeftConfig(peft_type="LORA", peft_kwargs=dict(rank=4))
    with pytest.raises(ConfigError, match="PEFT rejected"):
        PB.PeftConfig(peft_type="BOFT", peft_kwargs=dict(boft_block_size=4, boft_block_num=4))
    with pytest.raises(ConfigError, match="may not set 'target_modules'"):
        PB.PeftConfig(peft_kwargs=dict(target_modules=["qkv"]))
    with pytest.raises(ConfigError, match="implies use_dora=True"):
        PB.PeftConfig(peft_type="DORA", peft_kwargs=dict(use_dora=False))


def test_injection_failures_are_config_errors(tiny_vit):
    backbone = tiny_vit()
    with pytest.raises(ConfigError, match="PEFT could not inject LORA"):
        A.inject(backbone.model, dict(type="peft", peft_kwargs=dict(init_lora_weights="nonsense")))


def test_targets_use_visadapt_matching(tiny_vit):
    backbone = tiny_vit()
    with pytest.raises(A.NoMatchingTargetError, match="blocks.\\*.attn.qkvv"):
        A.inject(backbone.model, dict(type="peft", target_modules=["blocks.*.attn.qkvv"]))
    backbone = tiny_vit()
    A.inject(backbone.model, dict(type="peft", target_modules=["re:blocks\\.\\d+\\.mlp\\.fc\\d"],
                                  exclude_modules=["blocks.0.*"]))
    assert sorted(_tuner_layers(backbone.model)) == ["blocks.1.mlp.fc1", "blocks.1.mlp.fc2"]
    assert backbone.model.peft_config["default"].target_modules == {"blocks.1.mlp.fc1", "blocks.1.mlp.fc2"}


def test_missing_peft_is_a_config_error_with_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft -> ImportError
    with pytest.raises(ConfigError, match=r'pip install "visadapt\[peft\]"'):
        PB.PeftConfig(peft_type="LORA")


def test_package_does_not_import_peft_at_module_level():
    # (a subprocess import with sys.modules['peft'] = None shows the same, at ~4 s; this is instant)
    import ast
    from pathlib import Path

    for path in Path(PB.__file__).parent.glob("*.py"):
        for node in ast.parse(path.read_text()).body:  # top-level statements only
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "peft" for a in node.names), path
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "peft", path
