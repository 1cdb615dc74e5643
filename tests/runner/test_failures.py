"""A run that goes wrong stops with a message and leaves its last good checkpoint intact."""
from __future__ import annotations

import hashlib

import torch

from tests.runner.helpers import TINY, only_run, results, tool


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tmp_path):
    root = tmp_path / "runs"
    tool("train", TINY, "--work-dir", root, "--cfg-options", "trainer.max_epochs=1")
    run = only_run(root)
    last = run / "checkpoints" / "last.ckpt"
    before = _digest(last)
    # Dividing by a zero std turns every input into inf/nan: the first step of epoch 2 has a non-finite loss.
    config = tmp_path / "poisoned.py"
    config.write_text(f"_base_ = ['{TINY}']\n"
                      "data = dict(train_transforms=[dict(type='Normalize', mean=0, std=0, max_pixel_value=1)])\n")
    poisoned = tool("train", config, "--work-dir", root, "--resume", "auto", "--cfg-options", "trainer.max_epochs=2",
                    check=False)
    assert poisoned.returncode == 1
    assert "non-finite loss" in poisoned.stderr and "epoch 1" in poisoned.stderr
    assert _digest(last) == before
    assert torch.load(last, weights_only=True)["epoch"] == 0
    assert results(run)["epochs"] == 1  # results.json of the good run untouched
