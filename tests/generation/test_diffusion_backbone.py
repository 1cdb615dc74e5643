"""DiffusionBackbone: loads a diffusers folder offline, refuses hub ids, adapters target the parts' own names."""
from __future__ import annotations

import pytest
import torch

from visadapt import adapters as A
from visadapt.registry import ConfigError


def test_folder_round_trip_and_stock_pipeline(tiny_sd, tiny_sd_folder):
    from diffusers import StableDiffusionPipeline

    backbone = tiny_sd()
    assert backbone.resolution == 16 and backbone.vae_scale == 2
    stock = StableDiffusionPipeline.from_pretrained(tiny_sd_folder, safety_checker=None, requires_safety_checker=False)
    ids = backbone.tokenize(["a red star on a dark background"])
    torch.testing.assert_close(stock.text_encoder(ids)[0], backbone.encode_prompt(["a red star on a dark background"]))
    for patterns in backbone.target_presets.values():
        assert A.match_targets(backbone.adapted_model, patterns)


def test_hub_id_and_missing_folder_are_clear_errors(tmp_path):
    from visadapt.backbones import DiffusionBackbone

    with pytest.raises(FileNotFoundError, match="looks like a Hugging Face hub id: visadapt never downloads"):
        DiffusionBackbone(pretrained="runwayml/stable-diffusion-v1-5")
    with pytest.raises(FileNotFoundError, match="no diffusers folder"):
        DiffusionBackbone(pretrained=tmp_path / "nothing")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model_index.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="without the subfolder\(s\) unet, text_encoder"):
        DiffusionBackbone(pretrained=tmp_path / "half")
    with pytest.raises(ConfigError, match="either pretrained"):
        DiffusionBackbone()


def test_switched_off_lora_gives_the_base_unet_exactly(tiny_sd):
    backbone = tiny_sd()
    unet = backbone.unet
    z, t = torch.randn(2, 4, 8, 8), torch.tensor([3, 50])
    cond = backbone.encode_prompt(["a star", "a circle"])
    with torch.no_grad():
        base = unet(z, t, cond).sample
        A.inject(backbone.adapted_model, dict(type="lora", r=2, target_modules=backbone.target_presets["unet_attn"] +
                                              backbone.target_presets["text_attn"]))
        assert {n.split(".")[0] for n in A.adapter_state_dict(backbone.adapted_model)} == {"unet", "text_encoder"}
        from tests.conftest import perturb_adapters

        perturb_adapters(backbone.adapted_model)
        assert not torch.allclose(unet(z, t, backbone.encode_prompt(["a star", "a circle"])).sample, base)
        with A.disable_adapters(backbone.adapted_model):
            torch.testing.assert_close(unet(z, t, backbone.encode_prompt(["a star", "a circle"])).sample, base,
                                       atol=0, rtol=0)
