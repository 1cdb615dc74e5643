"""tools/benchmark_peft.py end to end in --quick mode: selection on val200, final runs tested once, the report."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tools import benchmark_peft

ROOT = Path(__file__).resolve().parents[2]

CONFIG = ROOT / "configs" / "benchmark" / "shapes_vtab.py"
METHODS = ["linear_probe", "lora"]
TASKS = ["color", "count"]  # one natural, one structured
LRS = [1e-3, 1e-2]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    argv = [str(CONFIG), "--quick", "--methods", ",".join(METHODS), "--tasks", ",".join(TASKS), "--seeds", "0",
            "--lrs", ",".join(map(str, LRS)), "--out-dir", str(out)]
    assert benchmark_peft.main(argv) == 0
    return out


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(open(path)))


def test_one_final_row_per_method_task_seed(out):
    rows = _rows(out / "results.csv")
    assert sorted((r["method"], r["task"], r["seed"]) for r in rows) == sorted(
        (m, t, "0") for m in METHODS for t in TASKS)
    for r in rows:
        assert 0.0 <= float(r["test_acc"]) <= 1.0 and 0.0 <= float(r["val_acc"]) <= 1.0
        assert 0 < int(r["trainable_params"]) < int(r["total_params"])
        assert r["group"] == {"color": "natural", "count": "structured"}[r["task"]]


def test_lr_is_the_argmax_of_val_over_the_grid(out):
    selection = _rows(out / "selection.csv")
    finals = {(r["method"], r["task"]): r for r in _rows(out / "results.csv")}
    for m in METHODS:
        for t in TASKS:
            grid = [r for r in selection if (r["method"], r["task"]) == (m, t)]
            assert sorted(float(r["lr"]) for r in grid) == LRS  # every grid lr was validated
            best = max(grid, key=lambda r: float(r["val_acc"]))
            assert [r["chosen"] for r in grid].count("True") == 1
            chosen = next(r for r in grid if r["chosen"] == "True")
            assert float(chosen["val_acc"]) == float(best["val_acc"])
            assert float(finals[(m, t)]["chosen_lr"]) == float(chosen["lr"])
            assert float(finals[(m, t)]["val_acc"]) == float(chosen["val_acc"])


def test_test_split_is_only_evaluated_by_final_runs(out):
    for r in _rows(out / "selection.csv"):
        assert r["test_evaluated"] == "False"
        res = json.loads((Path(r["run_dir"]) / "results.json").read_text())
        assert "test/acc" not in res["metrics"]
        assert "val200" in (Path(r["run_dir"]) / "config.py").read_text()
    for r in _rows(out / "results.csv"):
        run = Path(r["run_dir"])
        res = json.loads((run / "results.json").read_text())
        assert res["metrics"]["test/acc"] == pytest.approx(float(r["test_acc"]))
        assert "train800val200" in (run / "config.py").read_text()
        assert not any(row.get("val/acc") for row in _rows(run / "logs" / "metrics.csv"))  # no validation


def test_table_and_plot(out):
    table = (out / "table.md").read_text()
    assert "mean over tasks" in table and "mean of group means" in table
    header = next(line for line in table.splitlines() if line.startswith("| method"))
    for col in ("trainable params", "color (natu)", "count (stru)", "step time / full", "memory / full",
                "inference / base", "deployed as"):
        assert col in header
    assert sum(line.startswith(("| linear_probe", "| lora")) for line in table.splitlines()) == 2
    png = out / "accuracy_vs_params.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_in_the_same_out_dir_reuses_finished_runs(out, capsys):
    """An interrupted benchmark continues: unchanged runs are not retrained (here by 2 spawned workers)."""
    before = _rows(out / "results.csv")
    argv = [str(CONFIG), "--quick", "--methods", ",".join(METHODS), "--tasks", ",".join(TASKS), "--seeds", "0",
            "--lrs", ",".join(map(str, LRS)), "--out-dir", str(out), "--jobs", "2"]
    assert benchmark_peft.main(argv) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.lstrip().startswith(("select", "final"))]
    assert len(printed) == len(METHODS) * len(TASKS) * (len(LRS) + 1)
    assert all(line.endswith("(reused)") for line in printed)
    assert _rows(out / "results.csv") == before


def test_run_configs_depend_only_on_what_the_run_uses():
    """The config file's helper variables (e.g. the lr grids) are not part of a run's config, so widening a grid
    keeps the finished runs of the old grid points reusable."""
    base, spec = benchmark_peft.load_benchmark(CONFIG)
    assert not [k for k in base if k.startswith("_")]
    cfg = benchmark_peft.run_config(base, spec, spec["methods"]["lora"], "count", 1e-3, 0, 2, final=False,
                                    quick=True, source=str(CONFIG))
    assert "lr_grid" not in cfg.pretty_text and "_HEAD_LR" not in cfg.pretty_text


def test_unknown_method_or_task_is_a_clear_error(capsys):
    assert benchmark_peft.main([str(CONFIG), "--quick", "--methods", "lora,nope"]) == 1
    err = capsys.readouterr().err
    assert "unknown method(s) nope" in err and "linear_probe" in err and "full" in err
    assert benchmark_peft.main([str(CONFIG), "--quick", "--tasks", "colour"]) == 1
    err = capsys.readouterr().err
    assert "unknown task(s) colour" in err and "color" in err and "distance" in err


@pytest.mark.parametrize("name, splits", [
    ("vtab1k_vit_b16", ("train800", "val200", "train800val200", "test")),
    ("fgvc_vit_b16", ("train", "val", "trainval", "test")),
])
def test_real_benchmark_configs_load_and_map_tasks_to_their_data(name, splits):
    """The VTAB-1k and FGVC configs parse, carry published numbers, and give each task its folder and splits."""
    path = ROOT / "configs" / "benchmark" / f"{name}.py"
    base, spec = benchmark_peft.load_benchmark(path)
    assert base["backbone"]["name"] == "vit_base_patch16_224.orig_in21k"
    assert set(spec["published"]["values"]) <= set(spec["methods"])
    tasks = [t for ts in spec["suite"].values() for t in ts]
    assert len(tasks) == (19 if name.startswith("vtab") else 5)
    task = tasks[0]
    select = benchmark_peft.run_config(base, spec, spec["methods"]["lora"], task, 1e-3, 0, 100, final=False,
                                       quick=False, source=str(path))
    final = benchmark_peft.run_config(base, spec, spec["methods"]["lora"], task, 1e-3, 1, 100, final=True,
                                      quick=False, source=str(path))
    assert (select.data.train.split, select.data.val.split, final.data.train.split, final.data.test.split) == splits
    assert select.data.test is None and final.data.val is None
    assert select.data.train.root.endswith(f"/{task}")
    with pytest.raises(benchmark_peft.BenchmarkError, match=f"benchmark task '{task}'.*not found"):
        benchmark_peft.check_tasks(spec, [task])  # no data in the checkout: a clear error before any training
