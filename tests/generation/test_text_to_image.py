"""TextToImageTask: the denoising objective, CAT and DreamBooth's prior preservation, the diffusers-format export."""
from __future__ import annotations

import pytest
import torch

from tests.conftest import perturb_adapters
from visadapt import adapters as A
from visadapt.registry import ConfigError
from visadapt.tasks.text_to_image import TextToImageTask, before_first_comma_dropped, drop_trigger

LORA_R2 = dict(type="lora", r=2, alpha=2.0, init="gaussian",
               target_modules=["unet.*.attn[12].to_q", "unet.*.attn[12].to_v"])


def test_trigger_free_captions():
    assert drop_trigger("zwx, a star on a dark background", "zwx") == "a star on a dark background"
    assert drop_trigger("a photo of zwx star, on the carpet", "zwx") == "a photo of star, on the carpet"
    assert drop_trigger("zwxy star", "zwx") == "zwxy star"  # whole words only
    assert drop_trigger("a <zwx> toy", "<zwx>") == "a toy"
    # The reference's convention (CAT): everything up to the first comma goes, the leading space stays.
    assert before_first_comma_dropped("<shs>, a cat statue lying on the carpet") == " a cat statue lying on the carpet"
    with pytest.raises(ConfigError, match="needs a comma"):
        before_first_comma_dropped("a cat statue")


def _batch(backbone, n=2):
    torch.manual_seed(1)
    return torch.randn(n, 4, 8, 8), ["zwx, a star on a dark background", "zwx, a star on a light background"][:n]


def test_cat_term_is_zero_at_init_and_trains_only_adapter_tensors(tiny_sd):
    task = TextToImageTask(tiny_sd(), adapter=LORA_R2, regularizer="cat", trigger="zwx")
    latents, captions = _batch(task.backbone)
    terms = task.denoising_losses(latents, captions)
    assert terms["cat"].item() == 0.0  # B = 0: the adapted and the base prediction are the same numbers
    perturb_adapters(task.adapted_model)
    terms = task.denoising_losses(latents, captions)
    assert terms["cat"].item() > 0
    sum(terms.values()).backward()
    owned = set(A.adapter_state_dict(task.adapted_model))
    for name, p in task.adapted_model.named_parameters():
        assert (p.grad is not None) == (name in owned), name


def test_cat_base_prediction_is_the_switched_off_unet(tiny_sd, monkeypatch):
    """The regulariser's target is the same UNet with adapters off, for the trigger-free caption."""
    task = TextToImageTask(tiny_sd(), adapter=LORA_R2, regularizer="cat", trigger="zwx", cat_weight=2.0)
    perturb_adapters(task.adapted_model)
    latents, captions = _batch(task.backbone)
    seen = []
    predict = task.predict
    monkeypatch.setattr(task, "predict", lambda z, t, c: seen.append((z, t, c)) or predict(z, t, c))
    torch.manual_seed(5)
    terms = task.denoising_losses(latents, captions)
    z_t, t = seen[0][0], seen[0][1]
    with torch.no_grad(), A.disable_adapters(task.adapted_model):
        base = task.backbone.unet(z_t, t, task.backbone.encode_prompt(["a star on a dark background",
                                                                       "a star on a light background"])).sample
    adapted = task.backbone.unet(z_t, t, task.backbone.encode_prompt(["a star on a dark background",
                                                                      "a star on a light background"])).sample
    torch.testing.assert_close(terms["cat"], 2.0 * (adapted - base).pow(2).mean())


def test_prior_preservation_splits_instance_and_class_halves(tiny_sd):
    task = TextToImageTask(tiny_sd(), adapter=LORA_R2, regularizer="prior", class_prompt="a star",
                           prior_loss_weight=0.5)
    perturb_adapters(task.adapted_model)
    latents, captions = _batch(task.backbone)
    extra = (torch.randn(2, 4, 8, 8), ["a star", "a star"])
    torch.manual_seed(7)
    terms = task.denoising_losses(latents, captions, extra)
    torch.manual_seed(7)  # the same noise and timesteps, drawn for the concatenated batch
    z_t, t, target, _ = task.noisy(torch.cat([latents, extra[0]]))
    pred = task.backbone.unet(z_t, t, task.backbone.encode_prompt(captions + extra[1])).sample
    torch.testing.assert_close(terms["instance"], (pred[:2] - target[:2]).pow(2).mean())
    torch.testing.assert_close(terms["prior"], 0.5 * (pred[2:] - target[2:]).pow(2).mean())


def test_min_snr_weights_by_hand(tiny_sd):
    task = TextToImageTask(tiny_sd(), adapter=LORA_R2, snr_gamma=5.0)
    alphas = task.backbone.noise_scheduler.alphas_cumprod
    t = torch.tensor([0, 50, 99])
    snr = alphas[t] / (1 - alphas[t])
    torch.testing.assert_close(task.loss_weights(t), torch.minimum(snr, torch.tensor(5.0)) / snr)


def test_bad_settings_are_config_errors(tiny_sd):
    with pytest.raises(ConfigError, match="regularizer must be one of"):
        TextToImageTask(tiny_sd(), adapter=LORA_R2, regularizer="dreambooth")
    with pytest.raises(ConfigError, match="needs the trigger word"):
        TextToImageTask(tiny_sd(), adapter=LORA_R2, regularizer="cat")
    with pytest.raises(ConfigError, match="needs class_prompt"):
        TextToImageTask(tiny_sd(), adapter=LORA_R2, regularizer="prior")


def test_diffusers_and_kohya_exports_load_into_a_stock_pipeline(tiny_sd, tiny_sd_folder, tmp_path):
    from diffusers import StableDiffusionPipeline
    from safetensors.torch import load_file

    # (Text-encoder LoRA on all four projections: diffusers reads kohya text-encoder keys only when out_proj is
    # among them.)
    backbone = tiny_sd()
    targets = ["unet.*.attn[12].to_q", "unet.*.attn[12].to_out.0"] + backbone.target_presets["text_attn"]
    task = TextToImageTask(backbone, adapter=dict(LORA_R2, alpha=4.0, target_modules=targets))
    perturb_adapters(task.adapted_model)
    task.export_adapter(tmp_path, {})
    assert (tmp_path / "adapter.safetensors").is_file() and (tmp_path / "pytorch_lora_weights.safetensors").is_file()
    z, t = torch.randn(1, 4, 8, 8), torch.tensor([10])
    prompt = ["zwx, a star on a dark background"]
    with torch.no_grad():
        ours = task.backbone.unet(z, t, task.backbone.encode_prompt(prompt)).sample
    for source in (tmp_path, load_file(str(tmp_path / "pytorch_lora_weights_kohya.safetensors"))):
        pipe = StableDiffusionPipeline.from_pretrained(tiny_sd_folder, safety_checker=None,
                                                       requires_safety_checker=False)
        pipe.load_lora_weights(source)  # no visadapt code from here on
        with torch.no_grad():
            ids = pipe.tokenizer(prompt, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                                 truncation=True, return_tensors="pt").input_ids
            stock = pipe.unet(z, t, pipe.text_encoder(ids)[0]).sample
        torch.testing.assert_close(stock, ours, atol=1e-5, rtol=1e-4)


def test_non_lora_adapters_get_no_diffusers_file(tiny_sd, tmp_path):
    task = TextToImageTask(tiny_sd(), adapter=dict(type="ssf", target_modules=["unet.*.attn1.to_q"]))
    task.export_adapter(tmp_path, {})
    assert not (tmp_path / "pytorch_lora_weights.safetensors").exists()
    assert "method 'ssf' is not LoRA" in (tmp_path / "lora_formats.txt").read_text()


def test_prior_stage_generates_class_images_once_and_pairs_halves(tiny_sd, tmp_path):
    """prepare_fit: class images from the base model (adapters off), cached and reused; each training item is an
    (instance, class) pair."""
    from visadapt.data.datamodule import ImageDataModule

    task = TextToImageTask(tiny_sd(), adapter=LORA_R2, regularizer="prior", class_prompt="a star",
                           num_class_images=3, sample_steps=2)
    perturb_adapters(task.adapted_model)  # switched off while the class images are drawn
    data = ImageDataModule(train=dict(type="ShapesSubjectDataset", num_images=2, image_size=16), batch_size=2)
    fit_data = task.prepare_fit(data, tmp_path)
    pngs = sorted((tmp_path / "class_images").glob("class_*.png"))
    assert len(pngs) == 3 and len(fit_data.train_set) == 3
    instance, extra = next(iter(fit_data.train_dataloader()))
    assert instance[0].shape == (2, 4, 8, 8) and list(extra[2]) == ["a star", "a star"]
    stamp = [p.stat().st_mtime_ns for p in pngs]
    with A.disable_adapters(task.adapted_model):
        from visadapt.generation.sampling import generate

        again = generate(task.backbone, ["a star"], [0], steps=2)[0]
    import numpy as np
    from PIL import Image

    np.testing.assert_array_equal(np.asarray(Image.open(pngs[0])), again)  # image k from seed k, base model
    task.prepare_fit(data, tmp_path)  # a resumed run reuses them
    assert [p.stat().st_mtime_ns for p in pngs] == stamp
