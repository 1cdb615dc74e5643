"""A mistake in the arguments or the config is reported before the heavy imports (Lightning takes 6-40 s to import
on a busy machine; a typo should not)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.runner.helpers import ROOT, TINY

PROBE = """
import json, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": sorted(m for m in ("torch", "lightning") if m in sys.modules)}))
"""


@pytest.mark.parametrize(
    "name, arguments, heavy",
    [
        ("train", [str(TINY), "--cfg-options", "optimiser.lr=1"], ("torch", "lightning")),
        ("test", ["nope.py", "weights"], ("torch", "lightning")),
        ("merge_adapter", ["no/such/adapter", "--out", "m.safetensors"], ("torch", "lightning")),
        ("zero_shot", ["--pretrained", "x", "--batch-size", "0"], ("torch", "lightning")),
        ("check_data", ["nope.py"], ("torch", "lightning")),
        ("tta", ["nope.py"], ("lightning",)),
        ("few_shot_sweep", ["configs/benchmark/few_shot_clip_tiny_shapes.py", "--methods", "nope"],
         ("torch", "lightning")),
        ("make_model_zoo", ["nope.py", "--name", "x"], ("torch", "lightning")),
    ],
)
def test_errors_come_before_heavy_imports(name, arguments, heavy):
    run = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "tools" / f"{name}.py"), *arguments], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["code"] == 1 and run.stderr.startswith("error: ")
    assert not set(heavy) & set(out["loaded"]), f"{name} imported {out['loaded']} before reporting the error"
