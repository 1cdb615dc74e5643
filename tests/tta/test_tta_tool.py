"""tools/tta.py end to end on a tiny config (2 domains, 32 images, a tiny random ViT from a safetensors file)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.runner.helpers import ROOT, only_run, tool, tool_module

CONFIG = """
backbone = dict(type="TimmBackbone", name="vit_tiny_patch16_224", pretrained={weights!r})
method = {method}
stream = dict(
    base=dict(type="ShapesDataset", task="shape", split="test", image_size=16),
    domains=["gaussian_noise", "brightness"],
    samples_per_domain=32,
    batch_size=16,
)
seed = 0
device = "cpu"
{extra}
"""


def write_config(directory: Path, weights: Path, method: str = 'dict(type="tent")', extra: str = "") -> Path:
    path = directory / "tiny_tta.py"
    path.write_text(CONFIG.format(weights=str(weights), method=method, extra=extra))
    return path


def test_tool_end_to_end(tmp_path, weights):
    config = write_config(tmp_path, weights)
    result = tool("tta", config, "--work-dir", tmp_path / "work", "--cfg-options", "method.steps=2")
    run = only_run(tmp_path / "work")
    results = json.loads((run / "results.json").read_text())
    assert list(results["errors"]) == ["gaussian_noise", "brightness"]
    assert all(0 <= e <= 100 for e in results["errors"].values())
    assert results["mean_error"] == pytest.approx(sum(results["errors"].values()) / 2)
    assert results["protocol"]["order"] == "sequential" and results["protocol"]["reset"] == "never"
    assert results["protocol"]["samples_per_domain"] == 32 and results["protocol"]["severities"] == [5]
    assert results["method"] == {"type": "tent", "steps": 2} and results["seed"] == 0
    assert results["num_images"] == 64 and results["images_per_s"] > 0 and len(results["batches"]) == 4
    rows = list(csv.reader((run / "errors.csv").open()))
    assert rows[0] == ["domain", "error"] and [r[0] for r in rows[1:]] == ["gaussian_noise", "brightness", "mean"]
    assert (run / "errors.png").read_bytes()[:4] == b"\x89PNG"
    assert "steps=2" in (run / "config.py").read_text()
    lines = result.stdout.splitlines()
    assert any(line.startswith("gaussian_noise") for line in lines)
    assert any(line.startswith("mean") and f"{results['mean_error']:.2f}" in line for line in lines)


def test_tool_eata_with_source_data_and_mixed_order(tmp_path, weights, capsys):
    config = write_config(
        tmp_path, weights, method='dict(type="eata", fisher_size=16)',
        extra='source_data = dict(type="ShapesDataset", task="shape", split="val200", num_samples=16, image_size=16)',
    )
    assert tool_module("tta").main([str(config), "--work-dir", str(tmp_path / "w"), "--no-progress",
                             "--cfg-options", "stream.order=mixed"]) == 0
    results = json.loads((only_run(tmp_path / "w") / "results.json").read_text())
    assert set(results["errors"]) == {"gaussian_noise", "brightness"} and results["protocol"]["order"] == "mixed"
    assert results["method"]["type"] == "eata"
    assert "mean" in capsys.readouterr().out


@pytest.mark.parametrize(
    "options, extra, message",
    [
        (["optimiser=1"], "", "unknown top-level key 'optimiser'. Valid keys: backbone, method, stream"),
        ([], "strem = 1", "unknown top-level key 'strem' (did you mean 'stream'?)"),
        (["stream.order=random"], "", "unknown order 'random'"),
        (["stream.reset=sometimes"], "", "reset"),
        (["method.lr=0.1"], "", "unknown argument(s) 'lr'"),
        ([], 'source_data = dict(type="ShapesDataset", split="val200")', "takes no source data (methods that do: eata)"),
    ],
)
def test_bad_config_is_a_one_line_error(tmp_path, weights, capsys, options, extra, message):
    config = write_config(tmp_path, weights, extra=extra)
    argv = [str(config), "--work-dir", str(tmp_path / "w")] + (["--cfg-options", *options] if options else [])
    assert tool_module("tta").main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err
    assert not (tmp_path / "w").exists()



@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "tta").glob("*.py")), ids=lambda p: p.stem)
def test_shipped_tta_configs_build(path):
    """Every configs/tta file loads and builds its method (ViDA from the model-zoo warm-up) and stream."""
    from visadapt.registry import TTA_METHODS
    from visadapt.tta.config import build_from_config, load_tta_config

    cfg = load_tta_config(path, {"stream.samples_per_domain": 8, "stream.batch_size": 8, "device": "cpu"})
    method, stream = build_from_config(cfg)
    assert len(stream.spec.domains) == 15 and stream.num_classes == 8
    assert type(method) is TTA_METHODS.get(cfg.method.type)
