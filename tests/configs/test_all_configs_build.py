"""Every config in configs/ loads and builds (data, backbone, adapter, task, trainer arguments)."""
from __future__ import annotations

from pathlib import Path

import pytest

from visadapt.runner import load_config
from visadapt.runner.build import build_datamodule, build_task, data_facts, trainer_kwargs

ROOT = Path(__file__).resolve().parents[2]
# Training configs; benchmark/ and tta/ hold configs of other tools, checked by those tools' tests.
OTHER_TOOLS = {"_base_", "benchmark", "tta"}
CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*.py") if not OTHER_TOOLS & set(p.relative_to(ROOT).parts))
# Configs for real use name local files that only a user's machine has; they must fail on exactly that file.
NEEDS_LOCAL_FILES = {"lora_vit_b16_in21k_vtab1k_cifar100": "vit_base_patch16_224.orig_in21k.safetensors",
                     **{f"{m}_vit_b16_coop": "open_clip_pytorch_model.bin"
                        for m in ("clip_lora", "prolip", "coop", "linear_probe", "zero_shot")},
                     "prolip_vit_b16_coop_fewval": "open_clip_pytorch_model.bin",
                     "lora_sam_vit_b_folder": "sam_vit_b_01ec64.pth",
                     "lora_cat_sd15_folder": "stable-diffusion-v1-5",
                     "simda_sd15_video_file": "stable-diffusion-v1-5"}
# Configs over a model-zoo entry that its committed pretraining configs make (sd_tiny_shapes:
# configs/pretrain/sd_tiny_shapes_{vae_,}pretrain.py): in a checkout without it they must fail naming the entry.
NEEDS_MODEL_ZOO = {name: "sd_tiny_shapes" for name in ("lora_sd_tiny_shapes_subject", "lora_cat_sd_tiny_shapes_subject",
                                                       "lora_prior_sd_tiny_shapes_subject", "sd_tiny_shapes_pretrain",
                                                       "simda_sd_tiny_shapes_oneshot",
                                                       "tuneavideo_sd_tiny_shapes_oneshot")}
NOTHING_TRAINS = {"zero_shot_clip_tiny_shapes", "source_sam_tiny_shapes_shadow", "source_sam_tiny_shapes_objects"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_builds(path):
    cfg = load_config(path)
    if path.stem in NEEDS_MODEL_ZOO and not (ROOT / "model_zoo" / NEEDS_MODEL_ZOO[path.stem]).is_dir():
        with pytest.raises(FileNotFoundError, match=NEEDS_MODEL_ZOO[path.stem]):
            build_task(load_config(path), dict(num_classes=0))
        return
    if path.stem in NEEDS_LOCAL_FILES:
        with pytest.raises(FileNotFoundError, match=NEEDS_LOCAL_FILES[path.stem]):
            build_task(cfg, dict(num_classes=100, class_names=[str(i) for i in range(100)], shots=1))
            build_datamodule(cfg)
        return
    datamodule = build_datamodule(cfg)
    shots = getattr(datamodule.train_set, "shots", None)
    trainer_kwargs(cfg, shots)
    task = build_task(cfg, data_facts(datamodule))
    counts = task.parameter_counts()
    assert (counts["trainable"] == 0) == (path.stem in NOTHING_TRAINS) and counts["trainable"] <= counts["total"]
