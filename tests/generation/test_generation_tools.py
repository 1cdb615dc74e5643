"""tools/train.py personalizes a tiny model end to end; tools/generate.py samples from it, reproducibly by seed."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.runner.helpers import ROOT, only_run, tool, tool_module


def generate_tool():
    return tool_module("generate").main


def _config(tmp_path, folder, regularizer: str):
    extra = {"none": "", "cat": ', cat_weight=1.0', "prior": ', class_prompt="a star", num_class_images=3'}[regularizer]
    path = tmp_path / f"tiny_{regularizer}.py"
    path.write_text(f'''
_base_ = ["{ROOT}/configs/_base_/default_runtime.py"]
backbone = dict(type="DiffusionBackbone", pretrained="{folder}")
adapter = dict(type="lora", r=2, alpha=2.0, init="gaussian", target_modules=["unet.*.attn[12].to_q", "unet.*.attn[12].to_v"])
task = dict(type="TextToImageTask", regularizer="{regularizer}", trigger="zwx", sample_steps=2{extra})
_prompts = ["{{trigger}}, a {{noun}} on a light background"]
data = dict(
    train=dict(type="ShapesSubjectDataset", num_images=3, image_size=16),
    val=dict(type="PromptDataset", prompts=_prompts, trigger="zwx", noun="star"),
    test=dict(type="PromptDataset", prompts=_prompts, trigger="zwx", noun="star", seeds_per_prompt=2, first_seed=9),
    batch_size=2,
)
optimizer = dict(type="AdamW", lr=1e-3)
trainer = dict(max_steps=3, max_epochs=-1, gradient_clip_val=1.0)
''')
    return path


@pytest.mark.slow
def test_personalize_then_generate(tmp_path, tiny_sd_folder):
    config = _config(tmp_path, tiny_sd_folder, "cat")
    tool("train", config, "--work-dir", tmp_path / "runs")
    run = only_run(tmp_path / "runs")
    results = json.loads((run / "results.json").read_text())
    assert {"test/identity", "test/prompt_similarity", "test/kps"} <= set(results["metrics"])
    assert (run / "adapter" / "pytorch_lora_weights.safetensors").is_file()
    assert list((run / "samples").glob("test_step*.png"))
    generate = generate_tool()
    out = [tmp_path / f"gen{i}" for i in range(2)]
    for directory in out:
        assert generate([str(run), "--prompt", "zwx, a star on a dark background", "--num", "2", "--steps", "2",
                         "--seed", "5", "--out", str(directory)]) == 0
    first = [np.asarray(Image.open(out[0] / f"seed{s:06d}.png")) for s in (5, 6)]
    assert all(np.array_equal(a, np.asarray(Image.open(out[1] / f"seed{s:06d}.png"))) for a, s in zip(first, (5, 6)))
    assert (out[0] / "grid.png").is_file() and json.loads((out[0] / "generation.json").read_text())["seeds"] == [5, 6]
    # Two subjects at once, the second switched off: the same images as the first alone.
    assert generate([str(tiny_sd_folder), "--prompt", "zwx, a star on a dark background", "--num", "2", "--steps",
                     "2", "--seed", "5", "--lora", str(run), "--lora", str(run), "--lora-scale", "1", "--lora-scale",
                     "0", "--out", str(tmp_path / "two")]) == 0
    for s, a in zip((5, 6), first):
        np.testing.assert_allclose(np.asarray(Image.open(tmp_path / "two" / f"seed{s:06d}.png")).astype(int), a,
                                   atol=2)


def test_generate_bad_input_is_one_line(tmp_path, tiny_sd_folder, capsys):
    generate = generate_tool()
    for args, message in [
        ((tiny_sd_folder, "--steps", "0"), "--steps must be >= 1"),
        (("runwayml/stable-diffusion-v1-5",), "looks like a Hugging Face hub id"),
        ((tiny_sd_folder, "--lora", tmp_path / "nowhere"), "no adapter export there"),
        ((tiny_sd_folder, "--lora", tmp_path, "--lora-scale", "1", "--lora-scale", "2"), "one --lora-scale per"),
    ]:
        try:
            code = generate([str(a) for a in args] + ["--prompt", "a star", "--out", str(tmp_path / "o")])
        except SystemExit as exit_:  # argparse's own errors
            code = exit_.code
        err = capsys.readouterr().err.strip().splitlines()
        assert code != 0 and message in err[-1] and not any("Traceback" in line for line in err), err
