"""Running the command-line tools as a user would."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "fixtures" / "tiny_lora_shapes.py"


def tool(name: str, *args: str, check: bool = True, **popen) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "tools" / f"{name}.py"), *map(str, args)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, **popen)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def tiny_base_weights(directory: Path) -> Path:
    """A base checkpoint for the tiny config, so adapters have fixed base weights to sit on."""
    import torch

    from visadapt.backbones import TimmBackbone

    torch.manual_seed(0)
    backbone = TimmBackbone("vit_tiny_patch16_224", num_classes=3, img_size=16, patch_size=4, depth=2, embed_dim=24,
                            num_heads=2)
    return backbone.save_pretrained(directory / "tiny_base.safetensors")


def only_run(root: Path) -> Path:
    runs = [p for p in root.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def results(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


KILLER = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import lightning as L
from visadapt.runner import load_config, train

class KillMidEpoch(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == int(sys.argv[4]) and batch_idx == int(sys.argv[5]):
            os.kill(os.getpid(), signal.SIGKILL)

train(load_config(sys.argv[2]), Path(sys.argv[3]), callbacks=[KillMidEpoch()])
"""


def train_killed_at(config: Path, work_root: Path, epoch: int, batch_idx: int) -> subprocess.CompletedProcess:
    """``tools/train.py``'s training in a fresh process, SIGKILLed before batch ``batch_idx`` of ``epoch`` (an exact,
    repeatable point, unlike a timer). The process gets this one's intra-op thread count: a CPU reduction split over
    another number of threads rounds differently, and a resumed run must match an uninterrupted one bit for bit."""
    import torch

    return subprocess.run([sys.executable, "-c", KILLER, str(ROOT), str(config), str(work_root), str(epoch),
                           str(batch_idx)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(torch.get_num_threads())})


def tool_module(name: str):
    """``tools/<name>.py`` imported in this process (its ``main(argv)`` without a fresh interpreter)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_tool", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
