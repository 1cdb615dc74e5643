"""Many runs (benchmarks, sweeps): workers die with their parent, and a finished run is reused only on the same
weight files."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.runner.helpers import ROOT, TINY, tiny_base_weights
from visadapt.runner import load_config
from visadapt.runner.many import finished_run, train_or_reuse

PARENT = """
import sys, time
sys.path.insert(0, {root!r})
from tests.runner.test_many import record_pid_and_sleep
from visadapt.runner.many import map_jobs

if __name__ == "__main__":
    map_jobs(record_pid_and_sleep, [0, 1], jobs=2, directory={directory!r})
"""


def record_pid_and_sleep(item: int, directory: str) -> dict:
    (Path(directory) / str(os.getpid())).write_text(str(item))
    time.sleep(120)
    return {}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state  # a zombie has ended; only its exit status is left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_when_the_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(PARENT.format(root=str(ROOT), directory=str(tmp_path))))
    parent = subprocess.Popen([sys.executable, str(script)], cwd=ROOT)
    deadline = time.time() + 120
    while len(pids := [int(p.name) for p in tmp_path.iterdir() if p.name.isdigit()]) < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert len(pids) == 2, "the workers never started"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while any(map(_alive, pids)) and time.time() < deadline:
        time.sleep(0.1)
    survivors = [pid for pid in pids if _alive(pid)]
    for pid in survivors:  # do not leave them sleeping if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors


def test_a_finished_run_is_reused_only_on_the_same_weight_bytes(tmp_path):
    weights = tiny_base_weights(tmp_path)
    cfg = load_config(TINY, {"trainer.max_epochs": 1, "backbone.pretrained": str(weights)})
    first = train_or_reuse(cfg, tmp_path / "runs")
    assert not first["reused"] and finished_run(cfg, tmp_path / "runs")["run_dir"] == first["run_dir"]
    assert train_or_reuse(cfg, tmp_path / "runs")["reused"]

    from safetensors.torch import load_file, save_file

    state = load_file(weights)
    save_file({k: v + 0.01 if k.endswith("weight") else v for k, v in state.items()}, weights)  # same name, new bytes
    assert finished_run(cfg, tmp_path / "runs") is None
