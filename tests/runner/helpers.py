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
