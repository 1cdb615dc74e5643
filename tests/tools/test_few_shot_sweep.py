"""tools/few_shot_sweep.py end to end (--quick), and a swept CLIP-LoRA run reloaded by tools/test.py."""
from __future__ import annotations

import csv
import json

import pytest

from tests.runner.helpers import tool

pytest.importorskip("open_clip")
SWEEP = "configs/benchmark/few_shot_clip_tiny_shapes.py"


@pytest.mark.slow
def test_quick_sweep_writes_table_csv_plot_and_reuses_runs(tmp_path):
    out = tmp_path / "sweep"
    args = [SWEEP, "--quick", "--datasets", "size", "--shots", "1,2", "--seeds", "1", "--out-dir", out]
    first = tool("few_shot_sweep", *args)
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert sorted({r["method"] for r in rows}) == ["clip_lora", "coop", "linear_probe", "prolip", "prolip_fewval",
                                                   "zero_shot"]
    assert len(rows) == 1 + 5 * 2  # zero-shot once; the others per K
    assert all(0 <= float(r["test_top1"]) <= 100 for r in rows)
    table = (out / "table.md").read_text()
    assert "| clip_lora |" in table and "K=2" in table and (out / "accuracy_vs_shots.png").stat().st_size > 0
    assert "reused" not in first.stdout
    split = json.loads(next((out / "runs/size/prolip/k2_seed1").rglob("few_shot_split.json")).read_text())
    assert split["shots"] == 2 and split["seed"] == 1 and len(split["indices"]) == 2 * 3
    again = tool("few_shot_sweep", *args, "--methods", "clip_lora,prolip")
    assert again.stdout.count("reused") == 4

    # The swept CLIP-LoRA run, reloaded from its adapter export and from its Lightning checkpoint, predicts the same.
    run_dir = next((out / "runs/size/clip_lora/k2_seed1").glob("*/results.json")).parent
    expected = json.loads((run_dir / "results.json").read_text())["metrics"]["test/acc"]
    for weights in (run_dir / "adapter", run_dir / "checkpoints" / "last.ckpt"):
        result = tool("test", run_dir / "config.py", weights)
        assert f"test/acc         | {expected:.4f}" in result.stdout, result.stdout


def test_previous_rows_keep_only_methods_not_run_now(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    from few_shot_sweep import load_sweep, previous_rows

    path = tmp_path / "results.csv"
    path.write_text("dataset,method,shots,seed,test_top1,fit_seconds,trainable_params,run_dir\n"
                    "size,clip_lora,16,1,51.3,900.0,3072,runs/a\nsize,prolip,16,1,43.0,20.0,2048,runs/b\n"
                    "size,clip_lora,16,7,50.0,900.0,3072,runs/c\nsize,zero_shot,0,1,31.1,0.0,0,runs/d\n")
    rows = previous_rows(path, load_sweep(SWEEP), {"prolip"}, ["size"], [16], [1, 2, 3])
    assert [(r["method"], r["seed"], r["test_top1"]) for r in rows] == [("clip_lora", 1, 51.3), ("zero_shot", 1, 31.1)]
    assert previous_rows(path, load_sweep(SWEEP), {"prolip", "clip_lora", "zero_shot"}, ["size"], [16], [1]) == []


def test_unknown_method_is_named(tmp_path):
    result = tool("few_shot_sweep", SWEEP, "--methods", "lora", "--out-dir", tmp_path, check=False)
    assert result.returncode == 1 and "unknown method(s) lora" in result.stderr


def test_real_sweep_config_names_the_eleven_coop_datasets():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    from few_shot_sweep import load_sweep

    from visadapt.data import COOP_DATASETS

    spec = load_sweep("configs/benchmark/few_shot_coop11_vit_b16.py")
    assert sorted(spec["datasets"]) == sorted(COOP_DATASETS) and spec["shots"] == [1, 2, 4, 8, 16]
