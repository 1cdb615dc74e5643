"""A run killed mid-training and restarted with --resume auto ends exactly like an uninterrupted run, logs included."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.runner.helpers import ROOT, TINY, only_run, results, tiny_base_weights, tool

EPOCHS = 6


@pytest.mark.slow
def test_resume_auto_after_sigkill_matches_uninterrupted(tmp_path):
    base = tiny_base_weights(tmp_path)
    options = ["--cfg-options", f"trainer.max_epochs={EPOCHS}", f"backbone.pretrained={base}",
               "data.train.num_samples=320"]
    straight = tmp_path / "straight"
    tool("train", TINY, "--work-dir", straight, *options)

    killed = tmp_path / "killed"
    cmd = [sys.executable, str(ROOT / "tools" / "train.py"), str(TINY), "--work-dir", str(killed), *options]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 300
    last = None
    while time.time() < deadline and proc.poll() is None:
        runs = list(killed.glob("*/checkpoints/last.ckpt"))
        if runs and _epoch(runs[0]) >= 1:
            last = runs[0]
            break
        time.sleep(0.2)
    assert last is not None, "the run never wrote a second-epoch checkpoint"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run = only_run(killed)
    assert not (run / "results.json").exists(), "the run finished before it was killed"
    killed_at = _epoch(last)
    assert killed_at < EPOCHS - 1

    tool("train", TINY, "--work-dir", killed, "--resume", "auto", *options)
    assert only_run(killed) == run  # continued in the same run directory
    resumed, reference = results(run), results(only_run(straight))
    assert resumed["resumed_from"].endswith("last.ckpt") and resumed["epochs"] == EPOCHS
    assert resumed["metrics"] == reference["metrics"]
    a = torch.load(run / "checkpoints/last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(only_run(straight) / "checkpoints/last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in b)
    # The whole history survives the kill: every row of the uninterrupted CSV and TensorBoard logs, none twice.
    assert (run / "logs/metrics.csv").read_text() == (only_run(straight) / "logs/metrics.csv").read_text()
    assert _scalars(run / "tb") == _scalars(only_run(straight) / "tb")


def _scalars(directory) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(directory))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def _epoch(path) -> int:
    for _ in range(5):  # the file is replaced atomically, but may vanish between glob and read
        try:
            return int(torch.load(path, weights_only=True)["epoch"])
        except (FileNotFoundError, RuntimeError, EOFError):
            time.sleep(0.05)
    return -1
