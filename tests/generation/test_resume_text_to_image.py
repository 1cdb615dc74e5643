"""A personalization run (TextToImageTask with CAT) killed mid-epoch and restarted with --resume auto ends with
adapter weights bit-identical to an uninterrupted run's, logs included."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from tests.runner.helpers import ROOT, only_run, results, train_killed_at

EPOCHS, KILL_EPOCH = 4, 2  # 3 images in batches of 2: 2 steps an epoch; killed before epoch 2's second step


def _config(tmp_path, folder):
    path = tmp_path / "tiny_cat.py"
    path.write_text(f'''
_base_ = ["{ROOT}/configs/_base_/default_runtime.py"]
backbone = dict(type="DiffusionBackbone", pretrained="{folder}")
adapter = dict(type="lora", r=2, alpha=2.0, init="gaussian",
               target_modules=["unet.*.attn[12].to_q", "unet.*.attn[12].to_v"])
task = dict(type="TextToImageTask", regularizer="cat", trigger="zwx")
data = dict(train=dict(type="ShapesSubjectDataset", num_images=3, image_size=16), batch_size=2)
optimizer = dict(type="AdamW", lr=1e-2)
trainer = dict(max_epochs={EPOCHS}, gradient_clip_val=1.0, log_every_n_steps=1, enable_progress_bar=False)
''')
    return path


@pytest.mark.slow
def test_text_to_image_resume_after_sigkill_matches_uninterrupted(tmp_path, tiny_sd_folder, monkeypatch):
    from visadapt.runner import load_config, train
    from visadapt.runner.workdir import RUN_DIR_ENV

    monkeypatch.setenv(RUN_DIR_ENV, "")  # train() sets it; restored after the test
    config = _config(tmp_path, tiny_sd_folder)
    straight = tmp_path / "straight"
    train(load_config(config), straight)  # in this process: only the killed run pays for a fresh interpreter

    killed = tmp_path / "killed"
    proc = train_killed_at(config, killed, KILL_EPOCH, 1)
    assert proc.returncode == -9, proc.stderr[-3000:]  # SIGKILL, mid-run
    run = only_run(killed)
    assert not (run / "results.json").exists() and not (run / "adapter").exists()
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=True)["epoch"] == KILL_EPOCH - 1

    train(load_config(config), killed, resume="auto")  # what tools/train.py --resume auto calls
    assert only_run(killed) == run  # continued in the same run directory
    resumed, reference = results(run), results(only_run(straight))
    assert resumed["resumed_from"].endswith("last.ckpt") and resumed["epochs"] == reference["epochs"] == EPOCHS
    a, b = load_file(run / "adapter/adapter.safetensors"), load_file(only_run(straight) / "adapter/adapter.safetensors")
    assert a.keys() == b.keys() and len(a) == 32
    assert all(torch.equal(a[k], b[k]) for k in b), [k for k in b if not torch.equal(a[k], b[k])][:5]
    assert any(v.abs().sum() > 0 for k, v in b.items() if "lora_B" in k)  # it trained: B left zero
    assert (run / "logs/metrics.csv").read_text() == (only_run(straight) / "logs/metrics.csv").read_text()
