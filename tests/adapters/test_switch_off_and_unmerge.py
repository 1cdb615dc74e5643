"""The adapter contract v2 over every method and three backbone kinds (timm ViT, CLIP image tower, SAM image
encoder): switched off, a model gives exactly its base outputs; merged in place it gives the adapted outputs, a
second merge is refused, and unmerging restores the base weights."""
from __future__ import annotations

import pytest
import torch

from tests.conftest import perturb_adapters
from visadapt import adapters as A
from visadapt.registry import ConfigError

pytest.importorskip("open_clip")
pytest.importorskip("segment_anything")

# The module names each method targets, per backbone (the same roles under each library's own names).
ROLES = {
    "vit": dict(qkv="blocks.*.attn.qkv", proj="blocks.*.attn.proj", attn="blocks.*.attn", mlp="blocks.*.mlp",
                fc2="blocks.*.mlp.fc2", norm2="norm2", saved="head"),
    "clip": dict(qkv="visual.transformer.resblocks.*.attn.q_proj", proj="visual.transformer.resblocks.*.attn.out_proj",
                 attn="visual.transformer.resblocks.*.attn", mlp="visual.transformer.resblocks.*.mlp",
                 fc2="visual.transformer.resblocks.*.mlp.c_proj", norm2="ln_2", saved="visual.ln_post"),
    "sam": dict(qkv="image_encoder.blocks.*.attn.qkv", proj="image_encoder.blocks.*.attn.proj",
                attn="image_encoder.blocks.*.attn", mlp="image_encoder.blocks.*.mlp",
                fc2="image_encoder.blocks.*.mlp.lin2", norm2="norm2", saved="image_encoder.neck"),
}


def method_configs(r: dict) -> dict[str, list[dict]]:
    return {
        "lora": [dict(type="lora", r=2, alpha=4, target_modules=[r["qkv"]])],
        "lora_stacked": [dict(type="lora", r=4, target_modules=[r["qkv"]]),  # ViDA's pair: a LoRA on a LoRA
                         dict(type="lora", r=1, target_modules=[r["qkv"]])],
        "ssf_on_lora": [dict(type="lora", r=2, target_modules=[r["proj"]]), dict(type="ssf", target_modules=[r["proj"]])],
        "houlsby": [dict(type="houlsby", hidden_dim=4, target_modules=[r["attn"], r["mlp"]])],
        "pfeiffer": [dict(type="pfeiffer", hidden_dim=4, target_modules=[r["mlp"]])],
        "adaptformer": [dict(type="adaptformer", hidden_dim=4, target_modules=[r["mlp"]], input_from=r["norm2"])],
        "mosa": [dict(type="mosa", hidden_dim=4, num_subadapters=2, target_modules=[r["mlp"]], input_from=r["norm2"])],
        "bitfit": [dict(type="bitfit")],
        "linear_probe": [dict(type="linear_probe", modules_to_save=[r["saved"]])],
        "full": [dict(type="full")],
        "ssf": [dict(type="ssf", target_modules=[r["qkv"], r["proj"], r["fc2"]])],
        "difffit": [dict(type="difffit", target_modules=[r["proj"], r["fc2"]])],
        "peft_lora": [dict(type="peft", peft_type="LORA", peft_kwargs=dict(r=2), target_modules=[r["qkv"]])],
        "peft_ia3": [dict(type="peft", peft_type="IA3", target_modules=[r["fc2"]],
                          peft_kwargs=dict(feedforward_modules=[r["fc2"]]))],
    }


MERGEABLE = {"lora", "lora_stacked", "ssf_on_lora", "bitfit", "linear_probe", "full", "ssf", "difffit", "peft_lora",
             "peft_ia3"}
SELECTION = {"bitfit", "linear_probe", "full"}


def build(kind: str):
    """(backbone, the function whose output is compared, its input) of a tiny backbone of ``kind``."""
    torch.manual_seed(0)
    if kind == "vit":
        from tests.conftest import TINY_VIT
        from visadapt.backbones import TimmBackbone

        backbone = TimmBackbone(num_classes=5, **TINY_VIT).eval()
        return backbone, backbone, torch.rand(2, 3, 16, 16)
    if kind == "clip":
        from tests.backbones.test_clip import TINY_CLIP
        from visadapt.backbones import OpenCLIPBackbone

        backbone = OpenCLIPBackbone(model_cfg=TINY_CLIP, split_attention=True).eval()
        size = TINY_CLIP["vision_cfg"]["image_size"]
        return backbone, backbone.encode_image, torch.rand(2, 3, size, size)
    from tests.backbones.test_sam import TINY
    from visadapt.backbones import SAMBackbone

    backbone = SAMBackbone(**TINY).eval()
    return backbone, lambda x: backbone.model.image_encoder(backbone.normalize(x)), torch.rand(2, 3, 64, 64)


CASES = [(kind, method) for kind in ROLES for method in method_configs(ROLES[kind])]
CASES += [("vit", "vpt"), ("vit", "vpt_deep")]


def configs_for(kind: str, method: str) -> list[dict]:
    if method.startswith("vpt"):
        return [dict(type="vpt", num_tokens=2, deep=method == "vpt_deep")]
    return method_configs(ROLES[kind])[method]


@pytest.mark.parametrize("kind, method", CASES)
def test_switched_off_equals_base(kind, method):
    backbone, fn, x = build(kind)
    with torch.no_grad():
        base = fn(x)
        A.inject(backbone.adapted_model, configs_for(kind, method))
        perturb_adapters(backbone.adapted_model)
        adapted = fn(x)
        assert not torch.equal(adapted, base)  # the perturbed adapters change the output
        with A.disable_adapters(backbone.adapted_model):
            torch.testing.assert_close(fn(x), base, atol=0, rtol=0)
        torch.testing.assert_close(fn(x), adapted, atol=0, rtol=0)  # back on, exactly as before


@pytest.mark.parametrize("kind, method", [c for c in CASES if c[1] in MERGEABLE])
def test_merge_in_place_then_unmerge_restores_base(kind, method):
    backbone, fn, x = build(kind)
    model = backbone.adapted_model
    base_weights = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        base = fn(x)
        A.inject(model, configs_for(kind, method))
        perturb_adapters(model)
        adapted = fn(x)
        A.merge(model, unload=False)
        torch.testing.assert_close(fn(x), adapted, atol=1e-5, rtol=1e-5)
        if method not in SELECTION:  # (selection methods train the model's own tensors: nothing to fold twice)
            with pytest.raises(ConfigError, match="already merged"):
                A.merge(model, unload=False)
        A.unmerge(model)
        torch.testing.assert_close(fn(x), adapted, atol=1e-5, rtol=1e-5)
        layer_weights = {k: v for k, v in model.state_dict().items() if k in base_weights}
        in_place = {n for c in A.injected_configs(model) for n in c.in_place_parameters(model) + c.owned_buffers(model)}
        for key, value in layer_weights.items():  # the wrapped base weights are back (up to one rounding)
            if key not in in_place:
                torch.testing.assert_close(value, base_weights[key], atol=1e-6, rtol=1e-6, msg=key)
        with A.disable_adapters(model):
            torch.testing.assert_close(fn(x), base, atol=1e-5, rtol=1e-5)


def test_merged_layer_cannot_be_switched_off(tiny_vit):
    model = tiny_vit().model
    A.inject(model, dict(type="lora", r=2))
    A.merge(model, unload=False)
    with pytest.raises(ConfigError, match="unmerge it first"):
        A.set_adapters_enabled(model, False)


def test_call_context_reaches_layers_without_being_an_argument():
    """A layer reads per-call values (SimDA's frame count) from the model's shared context, never a global."""
    from visadapt.adapters.base import AdapterLayer

    class FrameAware(AdapterLayer):
        def adapted_forward(self, x):
            return self.base_layer(x) * self.call_context.get("num_frames", 1)

    class FrameConfig(A.AdapterConfig):
        method = "frame_aware_test"
        layer_cls = FrameAware

    model = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.Linear(2, 2, bias=False))
    A.inject(model, FrameConfig(target_modules=["0", "1"]))
    other = torch.nn.Sequential(torch.nn.Linear(2, 2))
    A.inject(other, FrameConfig(target_modules=["0"]))
    x = torch.ones(1, 2)
    plain = model(x)
    with A.call_context(model, num_frames=3):
        torch.testing.assert_close(model(x), 9 * plain)  # both layers of this model see it
        assert other[0].call_context == {}  # another model does not
    torch.testing.assert_close(model(x), plain)  # and it is gone after the block
    A.set_call_context(model, num_frames=2)
    torch.testing.assert_close(model(x), 4 * plain)
