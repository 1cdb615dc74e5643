"""tools/benchmark_tta.py on tiny streams: one table per protocol framed by a clean row, extra orders as columns,
isolated runs, CoTTA's ratio."""
from __future__ import annotations

import csv
import json

import pytest
import torch

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
    assert benchmark_tta.main([*configs, "--out-dir", str(out), "--no-progress", "--cotta-rounds", "2",
                               "--orders", "dirichlet", "--order-cfg-options", "stream.samples_per_domain=16"]) == 0
    return out


def test_one_table_with_every_method_domain_and_cost(bench):
    table = (bench / "table.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| method"))
    for col in ("gaussian_noise", "brightness", "mean", "dirichlet mean", "images/s", "peak memory (MiB)"):
        assert col in header
    assert sum(line.startswith(("| clean", "| source", "| cotta")) for line in table.splitlines()) == 3
    rows = list(csv.DictReader(open(bench / "errors.csv")))
    assert {(r["method"], r["domain"]) for r in rows} == {("clean", "mean")} | {
        (m, d) for m in ("source", "cotta") for d in ("gaussian_noise", "brightness", "mean", "dirichlet mean")}
    summary = json.loads((bench / "summary.json").read_text())
    for m in ("source", "cotta"):
        assert summary["methods"][m]["num_images"] == 64 and summary["methods"][m]["images_per_s"] > 0
        assert summary["methods"][m]["peak_memory_bytes"] >= 0
    assert json.loads((bench / "runs" / "source@dirichlet" / "results.json").read_text())["num_images"] == 32


def test_clean_row_is_the_source_on_uncorrupted_images(bench):
    from visadapt.backbones import TimmBackbone
    from visadapt.data.shapes import ShapesDataset

    summary = json.loads((bench / "summary.json").read_text())
    (table,) = summary["tables"]
    assert table["methods"] == ["source", "cotta"]
    source_cfg = json.loads((bench / "runs" / "source" / "results.json").read_text())["backbone"]
    model = TimmBackbone(num_classes=8, **{k: v for k, v in source_cfg.items() if k != "type"}).eval()
    data = ShapesDataset(task="shape", split="test", image_size=16, num_samples=32)
    images = torch.stack([data[i][0] for i in range(32)])
    labels = torch.tensor([data.label(i) for i in range(32)])
    expected = 100.0 * (model(images).argmax(1) != labels).float().mean().item()
    assert table["clean_error"] == pytest.approx(expected)


def test_cotta_augmentation_comparison_is_reported(bench):
    cotta = json.loads((bench / "summary.json").read_text())["cotta_augmentation"]
    assert cotta["views"] == 4 and cotta["batch"] == 16 and cotta["rounds"] == 2
    assert cotta["speedup"][0] > 0
    assert "one view at a time" in (bench / "table.md").read_text()


def test_configs_with_different_streams_make_separate_tables(tmp_path, weights):
    a = _config(tmp_path, weights, "a", 'dict(type="source")')
    b = tmp_path / "b.py"
    b.write_text(CONFIG.format(weights=str(weights), method='dict(type="bn")', extra="").replace(
        "samples_per_domain=32", "samples_per_domain=16"))
    out = tmp_path / "o"
    assert benchmark_tta.main([a, str(b), "--out-dir", str(out), "--no-progress", "--cotta-rounds", "0"]) == 0
    tables = json.loads((out / "summary.json").read_text())["tables"]
    assert [t["methods"] for t in tables] == [["a"], ["b"]]
    assert (out / "table.md").read_text().count("| clean |") == 2
