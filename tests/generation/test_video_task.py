"""One-shot video tuning end to end on tiny parts: a clip's frames share a timestep, tools/train.py tunes and edits,
tools/generate.py --video edits reproducibly and samples from noise by seed, and a stopped run resumes exactly."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.generation.test_generation_tools import generate_tool
from tests.runner.helpers import ROOT, only_run, tool, tool_module, train_killed_at


def video_config(tmp_path, folder, method: str = "simda", epochs: int = 1, edits: bool = True):
    path = tmp_path / f"tiny_{method}_{epochs}{'' if edits else '_no_edits'}.py"
    test = 'dict(type="PromptDataset", prompts=["a blue circle moving left to right on a dark background"])'
    path.write_text(f'''
_base_ = ["{ROOT}/configs/_base_/default_runtime.py"]
backbone = dict(type="DiffusionBackbone", pretrained="{folder}")
adapter = dict(type="{method}")
task = dict(type="VideoTuningTask", sample_steps=2, guidance_scale=3.0)
data = dict(
    train=dict(type="ShapesClipDataset", num_frames=4, image_size=16, repeats=3),
    test={test if edits else None},
    batch_size=1,
)
optimizer = dict(type="AdamW", lr=1e-2)
trainer = dict(max_epochs={epochs}, gradient_clip_val=1.0)
''')
    return path


def test_the_frames_of_a_clip_share_one_timestep(tiny_sd):
    from visadapt.tasks import VideoTuningTask

    task = VideoTuningTask(tiny_sd())
    torch.manual_seed(0)
    latents = torch.randn(3 * 4, 4, 8, 8)
    z_t, t, target, _ = task.noisy(latents, frames=4)
    assert torch.equal(t, t[::4].repeat_interleave(4)) and len(set(t[::4].tolist())) > 1
    alphas = task.backbone.noise_scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
    torch.testing.assert_close(z_t, alphas.sqrt() * latents + (1 - alphas).sqrt() * target)


def test_a_training_step_trains_only_the_video_adapters(tiny_sd):
    from visadapt.data import ShapesClipDataset
    from visadapt.generation.video import encode_clips
    from visadapt.tasks import VideoTuningTask

    task = VideoTuningTask(tiny_sd(), gradient_checkpointing=True)
    latents = encode_clips(task.backbone, ShapesClipDataset(num_frames=4, image_size=16))
    task.training_step((latents.mean, latents.std, latents.captions), 0).backward()
    grads = {n: p.grad for n, p in task.named_parameters() if p.grad is not None}
    assert grads and all(".adapter." in n for n in grads)
    assert not any(p.requires_grad for n, p in task.named_parameters() if "vae" in n or "text_encoder" in n)


@pytest.mark.slow
def test_tune_then_edit_and_sample_a_clip(tmp_path, tiny_sd_folder):
    tool("train", video_config(tmp_path, tiny_sd_folder), "--work-dir", tmp_path / "runs")
    run = only_run(tmp_path / "runs")
    metrics = json.loads((run / "results.json").read_text())["metrics"]
    assert {"test/frame_consistency", "test/textual_faithfulness", "test/pixel_consistency"} <= set(metrics)
    assert (run / "adapter" / "adapter.safetensors").is_file() and list((run / "samples").glob("test_*.gif"))

    generate = generate_tool()
    edit = ["--video", "--prompt", "a green circle moving left to right on a light background", "--steps", "2"]
    for name in ("a", "b"):
        assert generate([str(run), *edit, "--out", str(tmp_path / name)]) == 0
    strips = [np.asarray(Image.open(tmp_path / name / "video.png")) for name in ("a", "b")]
    assert strips[0].shape == (16, 4 * 16, 3) and np.array_equal(*strips)
    assert all((tmp_path / "a" / f).is_file() for f in ("video.gif", "video.mp4", "source.png", "generation.json"))

    noise = ["--video", "--from-noise", "--prompt", "a red square", "--steps", "2", "--num", "2", "--seed", "3"]
    for name in ("n1", "n2"):
        assert generate([str(run), *noise, "--out", str(tmp_path / name)]) == 0
    first = [np.asarray(Image.open(tmp_path / "n1" / f"video_{k}.png")) for k in range(2)]
    again = [np.asarray(Image.open(tmp_path / "n2" / f"video_{k}.png")) for k in range(2)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again)) and not np.array_equal(*first)

    assert generate([str(run), *edit, "--source", str(tmp_path / "a" / "video.gif"), "--frames", "9",
                     "--out", str(tmp_path / "c")]) == 1  # a 4-frame GIF cannot give 9 frames


@pytest.mark.slow
def test_a_killed_tuning_run_resumes_exactly(tmp_path, tiny_sd_folder, monkeypatch):
    """Two epochs of 3 steps straight vs a run SIGKILLed before epoch 1's second step, then --resume auto: the same
    adapter tensors, bit for bit."""
    from safetensors.torch import load_file

    from visadapt.runner import load_config, train
    from visadapt.runner.workdir import RUN_DIR_ENV

    monkeypatch.setenv(RUN_DIR_ENV, "")  # train() sets it; restored after the test
    path = video_config(tmp_path, tiny_sd_folder, epochs=2, edits=False)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    train(load_config(path), straight)
    assert train_killed_at(path, killed, 1, 1).returncode == -9
    run = only_run(killed)
    assert not (run / "adapter").exists() and torch.load(run / "checkpoints/last.ckpt", weights_only=True)["epoch"] == 0
    train(load_config(path), killed, resume="auto")
    a = load_file(only_run(straight) / "adapter" / "adapter.safetensors")
    b = load_file(run / "adapter" / "adapter.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(v, torch.zeros_like(v)) for k, v in a.items() if ".up." in k)


def test_bad_video_input_is_one_error_line(tmp_path, tiny_sd_folder, capsys):
    """An unreadable clip, a clip too short for the frames asked, an edit with 0 steps: one line each, no run left."""
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    ShortClip = tmp_path / "short"
    ShortClip.mkdir()
    for k in range(3):
        Image.fromarray(np.full((16, 16, 3), 40 * k, np.uint8)).save(ShortClip / f"frame{k}.png")
    train, generate = tool_module("train").main, generate_tool()
    config = video_config(tmp_path, tiny_sd_folder)
    file_data = ["data.train.type=VideoFileDataset", "data.train.caption=a clip", "data.train.image_size=16"]
    cases = [
        (train, [str(config), "--work-dir", str(tmp_path / "runs"), "--cfg-options", *file_data,
                 f"data.train.path={bad}"], f"cannot read '{bad}'"),
        (train, [str(config), "--work-dir", str(tmp_path / "runs"), "--cfg-options", *file_data,
                 f"data.train.path={ShortClip}", "data.train.num_frames=4"], "the video has 3 frames"),
        (generate, [str(tiny_sd_folder), "--video", "--source", str(bad), "--prompt", "x", "--out",
                    str(tmp_path / "o")], "broken.mp4"),
        (generate, [str(tiny_sd_folder), "--video", "--prompt", "x", "--out", str(tmp_path / "o")],
         "no training clip to edit"),
    ]
    for main, argv, expected in cases:
        assert main(argv) == 1
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    with pytest.raises(SystemExit):
        generate([str(tiny_sd_folder), "--video", "--steps", "0", "--prompt", "x", "--out", str(tmp_path / "o")])
    assert "--steps must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
