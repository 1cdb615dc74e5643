"""tools/benchmark_tta.py on a tiny stream: one table for several methods, isolated runs, CoTTA's ratio."""
from __future__ import annotations

import csv
import json

import pytest

from tests.tta.test_tta_tool import CONFIG
from tools import benchmark_tta


def _config(directory, weights, name, method):
    path = directory / f"{name}.py"
    path.write_text(CONFIG.format(weights=str(weights), method=method, extra=""))
    return str(path)


@pytest.fixture(scope="module")
def bench(tmp_path_factory, weights):
    d = tmp_path_factory.mktemp("tta_bench")
    configs = [_config(d, weights, "source", 'dict(type="source")'),
               _config(d, weights, "cotta", 'dict(type="cotta", n_augmentations=4)')]
    out = d / "out"
    assert benchmark_tta.main([*configs, "--out-dir", str(out), "--no-progress", "--cotta-rounds", "2"]) == 0
    return out


def test_one_table_with_every_method_domain_and_cost(bench):
    table = (bench / "table.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| method"))
    for col in ("gaussian_noise", "brightness", "mean", "images/s", "peak memory (MiB)"):
        assert col in header
    assert sum(line.startswith(("| source", "| cotta")) for line in table.splitlines()) == 2
    rows = list(csv.DictReader(open(bench / "errors.csv")))
    assert {(r["method"], r["domain"]) for r in rows} == {
        (m, d) for m in ("source", "cotta") for d in ("gaussian_noise", "brightness", "mean")}
    summary = json.loads((bench / "summary.json").read_text())
    for m in ("source", "cotta"):
        assert summary["methods"][m]["num_images"] == 64 and summary["methods"][m]["images_per_s"] > 0
        assert summary["methods"][m]["peak_memory_bytes"] >= 0


def test_cotta_augmentation_comparison_is_reported(bench):
    cotta = json.loads((bench / "summary.json").read_text())["cotta_augmentation"]
    assert cotta["views"] == 4 and cotta["batch"] == 16 and cotta["rounds"] == 2
    assert cotta["speedup"][0] > 0
    assert "one view at a time" in (bench / "table.md").read_text()


def test_configs_with_different_streams_are_refused(tmp_path, weights, capsys):
    a = _config(tmp_path, weights, "a", 'dict(type="source")')
    b = tmp_path / "b.py"
    b.write_text(CONFIG.format(weights=str(weights), method='dict(type="source")', extra="").replace(
        "samples_per_domain=32", "samples_per_domain=16"))
    assert benchmark_tta.main([a, str(b), "--out-dir", str(tmp_path / "o"), "--no-progress"]) == 1
    assert "different streams" in capsys.readouterr().err
