"""One tester run over every adapter method: identity at init, trainable set, save/load, merge."""
from __future__ import annotations

import copy

import pytest
import timm
import torch
from safetensors.torch import load_file

from tests.conftest import TINY_ARCH, TINY_KWARGS, perturb_adapters
from visadapt import adapters as A

CASES = {
    "lora": dict(type="lora", r=4, alpha=8),
    "lora_qv": dict(type="lora", r=4, alpha=4, qkv_slices=["q", "v"], dropout=0.1),
    "lora_proj_rslora": dict(type="lora", r=2, alpha=1, use_rslora=True, target_modules=["blocks.*.attn.proj"]),
    "houlsby": dict(type="houlsby", hidden_dim=4),
    "pfeiffer": dict(type="pfeiffer", hidden_dim=4),
    "adaptformer": dict(type="adaptformer", hidden_dim=4),
    "bitfit": dict(type="bitfit"),
    "linear_probe": dict(type="linear_probe"),
    "full": dict(type="full"),
    "mosa": dict(type="mosa", hidden_dim=4, num_subadapters=2),
    "mosa_share_none": dict(type="mosa", hidden_dim=4, share="none", num_subadapters=3),
    "vpt": dict(type="vpt", num_tokens=4),
    "vpt_deep": dict(type="vpt", num_tokens=2, deep=True, dropout=0.1),
    "ssf": dict(type="ssf", init="identity"),
    "ssf_paper_init": dict(type="ssf"),
    "difffit": dict(type="difffit"),
    "difffit_scalar": dict(type="difffit", per_channel=False, train_norm=False),
}
# HF PEFT tuners through the bridge (PiSSA/OLoRA move W's principal part into the adapter: outputs still match).
PEFT_CASES = {
    "peft_lora": dict(peft_type="LORA", peft_kwargs=dict(r=4, lora_alpha=8)),
    "peft_dora": dict(peft_type="DORA", peft_kwargs=dict(r=4)),
    "peft_dora_kwarg": dict(peft_type="lora", peft_kwargs=dict(r=2, use_dora=True, lora_dropout=0.1),
                            target_modules=["blocks.*.attn.proj"]),
    "peft_pissa": dict(peft_type="LORA", peft_kwargs=dict(r=4, init_lora_weights="pissa")),
    "peft_olora": dict(peft_type="LORA", peft_kwargs=dict(r=4, init_lora_weights="olora")),
    "peft_ia3": dict(peft_type="IA3", target_modules=["blocks.*.attn.qkv", "blocks.*.mlp.fc2"],
                     peft_kwargs=dict(feedforward_modules=["blocks.*.mlp.fc2"])),
    "peft_boft": dict(peft_type="BOFT", peft_kwargs=dict(boft_block_size=4)),
    "peft_oft": dict(peft_type="OFT", peft_kwargs=dict(r=0, oft_block_size=4)),
    "peft_hra": dict(peft_type="HRA", peft_kwargs=dict(r=4)),
    "peft_loha": dict(peft_type="LOHA", peft_kwargs=dict(r=4)),
    "peft_lokr": dict(peft_type="LOKR", peft_kwargs=dict(r=4)),
    # One frozen random A/B pair shared by every layer (built by the tuner object), trained scaling vectors.
    "peft_vera": dict(peft_type="VERA", target_modules=["blocks.*.attn.qkv", "blocks.*.mlp.fc1"],
                      peft_kwargs=dict(r=4)),
}
CASES.update({name: dict(type="peft", **cfg) for name, cfg in PEFT_CASES.items()})
MERGEABLE = {"lora", "lora_qv", "lora_proj_rslora", "bitfit", "linear_probe", "full", "ssf", "ssf_paper_init",
             "difffit", "difffit_scalar", *PEFT_CASES}
# Prompts take part in attention from the first step, and SSF's paper init is N(1, 0.02): not the identity.
NOT_IDENTITY_AT_INIT = {"vpt", "vpt_deep", "ssf_paper_init"}


def _inject(backbone, case):
    return A.inject(backbone.model, dict(CASES[case], modules_to_save=["head"]))


@pytest.mark.parametrize("case", sorted(set(CASES) - NOT_IDENTITY_AT_INIT))
def test_identity_at_init(case, tiny_vit, images):
    backbone = tiny_vit()
    before = backbone(images)
    _inject(backbone, case)
    torch.testing.assert_close(backbone(images), before, atol=1e-6, rtol=0)


@pytest.mark.parametrize("case", list(CASES))
def test_only_adapter_params_train(case, tiny_vit, images):
    backbone = tiny_vit()
    _inject(backbone, case)
    owned = set(A.adapter_state_dict(backbone.model))
    trainable = {n for n, p in backbone.model.named_parameters() if p.requires_grad}
    assert trainable == owned and owned
    assert {n for n in owned if n.startswith("head.")} == {"head.weight", "head.bias"}
    backbone.train()
    backbone(images).sum().backward()
    for name, p in backbone.model.named_parameters():
        assert (p.grad is not None) == (name in owned), name


@pytest.mark.parametrize("case", list(CASES))
def test_save_load_round_trip(case, tiny_vit, images, tmp_path):
    trained = tiny_vit()
    _inject(trained, case)
    perturb_adapters(trained.model)
    A.save_adapter(trained.model, tmp_path, metadata={"note": "test"})
    saved = load_file(str(tmp_path / "adapter.safetensors"))
    assert set(saved) == set(A.adapter_state_dict(trained.model))
    fresh = tiny_vit()
    A.load_adapter(fresh.model, tmp_path)  # injects from adapter_config.json
    torch.testing.assert_close(fresh(images), trained(images), atol=0, rtol=0)
    assert A.read_adapter_config(tmp_path)["note"] == "test"


@pytest.mark.parametrize("case", sorted(MERGEABLE))
def test_merge_matches_unmerged_and_loads_in_plain_timm(case, tiny_vit, images):
    backbone = tiny_vit()
    _inject(backbone, case)
    perturb_adapters(backbone.model)
    expected = backbone(images)
    A.merge(backbone.model)
    assert not any(isinstance(m, A.AdapterLayer) for m in backbone.model.modules())
    torch.testing.assert_close(backbone(images), expected, atol=1e-5, rtol=0)
    plain = timm.create_model(TINY_ARCH, num_classes=5, **TINY_KWARGS).eval()
    plain.load_state_dict(backbone.model.state_dict())  # strict: the upstream key set is intact
    torch.testing.assert_close(plain(backbone.normalize(images)), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("case", sorted(set(CASES) - MERGEABLE))
def test_bottleneck_adapters_refuse_strict_merge(case, tiny_vit, images):
    backbone = tiny_vit()
    _inject(backbone, case)
    with pytest.raises(TypeError, match="cannot be folded"):
        A.merge(backbone.model)
    perturb_adapters(backbone.model)
    expected = backbone(images)
    A.merge(backbone.model, strict=False)  # nothing mergeable: the model is unchanged
    torch.testing.assert_close(backbone(images), expected)


def test_adapter_for_another_backbone_lists_keys(tiny_vit, tmp_path):
    small = tiny_vit()
    _inject(small, "lora")
    A.save_adapter(small.model, tmp_path)
    deeper = tiny_vit(depth=3)
    with pytest.raises(A.AdapterLoadError, match=r"missing keys \(2\): blocks.2.attn.qkv.lora_A"):
        A.load_adapter(deeper.model, tmp_path)
    wider = tiny_vit(embed_dim=32)
    with pytest.raises(A.AdapterLoadError, match="shape mismatches"):
        A.load_adapter(wider.model, tmp_path)


def test_deepcopy_keeps_adapters_working(tiny_vit, images):
    backbone = tiny_vit()
    _inject(backbone, "adaptformer")
    perturb_adapters(backbone.model)
    twin = copy.deepcopy(backbone)
    torch.testing.assert_close(twin(images), backbone(images))
    assert set(A.adapter_state_dict(twin.model)) == set(A.adapter_state_dict(backbone.model))
