"""Bad input to personalization and generation outside the demo: a LoRA made for another UNet, a trigger word no
caption has, a non-finite loss. Each is an error that names what is wrong."""
from __future__ import annotations

import copy

import pytest
import torch

from tests.conftest import perturb_adapters
from tests.generation.conftest import TINY_SD
from visadapt import adapters as A
from visadapt.data.datamodule import ImageDataModule
from visadapt.registry import ConfigError
from visadapt.tasks.base import NonFiniteLossError
from visadapt.tasks.text_to_image import TextToImageTask

LORA_R2 = dict(type="lora", r=2, alpha=2.0, init="gaussian",
               target_modules=["unet.*.attn[12].to_q", "unet.*.attn[12].to_v"])


def _lora_export(architecture: dict | object, directory):
    """A diffusers LoRA file trained (here: perturbed) on a UNet built from ``architecture`` (or on a backbone)."""
    from visadapt.backbones import DiffusionBackbone
    from visadapt.generation.lora_export import save_diffusers_lora

    torch.manual_seed(0)
    backbone = DiffusionBackbone(architecture=architecture) if isinstance(architecture, dict) else architecture
    A.inject(backbone.adapted_model, LORA_R2)
    perturb_adapters(backbone.adapted_model)
    directory.mkdir()
    A.save_adapter(backbone.adapted_model, directory)
    assert save_diffusers_lora(backbone, directory)
    return directory


def test_lora_for_another_unet_is_refused_with_its_keys(tiny_sd, tiny_sd_folder, tmp_path, capsys):
    from visadapt.generation.subjects import pipeline_with_subjects

    deeper = copy.deepcopy(TINY_SD)
    deeper["unet"]["layers_per_block"] = 2  # every module of the tiny UNet, and more
    wider = copy.deepcopy(TINY_SD)
    wider["unet"]["block_out_channels"] = (8, 24)  # the same module names, other widths
    # diffusers alone would load the deeper UNet's LoRA with a logged warning, leaving out what it cannot place.
    with pytest.raises(ConfigError, match=r"made for another model; 16 of its 48 LoRA tensors are for modules .* "
                                          r"lacks: unet\.down_blocks\.1\.attentions\.1\.transformer_blocks\.0\.attn1"
                                          r"\.to_q\.lora\.down\.weight"):
        pipeline_with_subjects(tiny_sd(), [_lora_export(deeper, tmp_path / "deeper")], [1.0])
    with pytest.raises(ConfigError, match=r"28 of its 32 LoRA tensors have another shape: unet\.down_blocks\.1\."
                                          r"attentions\.0\.transformer_blocks\.0\.attn1\.to_q\.lora\.down\.weight: "
                                          r"\[2, 24\], model expects \[r, 16\]"):
        pipeline_with_subjects(tiny_sd(), [_lora_export(wider, tmp_path / "wider")], [1.0])
    # A LoRA of this very UNet still loads, and tools/generate.py reports the mismatch on one line.
    pipeline_with_subjects(tiny_sd(), [_lora_export(tiny_sd(), tmp_path / "fits")], [1.0])
    from tests.generation.test_generation_tools import generate_tool

    code = generate_tool()([str(tiny_sd_folder), "--lora", str(tmp_path / "deeper"), "--prompt", "a star", "--out",
                            str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and "made for another model" in err[-1] and "Traceback" not in "".join(err), err
    # visadapt's own adapter file names the keys too.
    plain = tiny_sd()
    with pytest.raises(A.AdapterLoadError, match=r"unexpected keys \(16\): unet\.down_blocks\.1\.attentions\.1\."):
        A.load_adapter(plain.adapted_model, tmp_path / "deeper")


def _subject_data(trigger: str, template: str = "{trigger}, a {noun} on {background}") -> ImageDataModule:
    return ImageDataModule(train=dict(type="ShapesSubjectDataset", trigger=trigger, num_images=2, image_size=16,
                                      template=template), batch_size=2)


@pytest.mark.parametrize("regularizer", ["none", "cat"])
def test_trigger_absent_from_every_caption_is_a_config_error(tiny_sd, tmp_path, regularizer):
    task = TextToImageTask(tiny_sd(), adapter=LORA_R2, regularizer=regularizer, trigger="zwx")
    with pytest.raises(ConfigError, match=r"trigger 'zwx' \(task\.trigger\) is in none of the 2 training captions, "
                                          r"e\.g\. 'sks, a star on "):
        task.prepare_fit(_subject_data("sks"), tmp_path)
    # Present in every caption: the data are prepared (latents encoded once).
    prepared = task.prepare_fit(_subject_data("zwx"), tmp_path)
    assert len(prepared.train_dataloader().dataset) == 2


def test_non_finite_loss_stops_before_the_update(tiny_sd):
    task = TextToImageTask(tiny_sd(), adapter=LORA_R2, trigger="zwx")
    with torch.no_grad():
        for name, p in task.adapted_model.named_parameters():
            if "lora_B" in name:
                p.fill_(float("nan"))
    mean, std = torch.zeros(2, 4, 8, 8), torch.ones(2, 4, 8, 8)
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(nan\) at epoch 0, step 0; training stopped "
                                                 r"before the update"):
        task.training_step((mean, std, ["zwx, a star", "zwx, a star"]), 0)
