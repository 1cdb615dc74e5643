"""tools/train.py, tools/test.py (with overlay PNGs) and tools/merge_adapter.py on a seconds-long SAM config."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

pytest.importorskip("segment_anything")

from tests.runner.helpers import ROOT, only_run, results  # noqa: E402
from visadapt.segmentation.overlay import TITLE_HEIGHT  # noqa: E402
from tools import merge_adapter as merge_tool  # noqa: E402
from tools import test as test_tool  # noqa: E402
from tools import train as train_tool  # noqa: E402
from visadapt.backbones.sam import build_sam  # noqa: E402
from visadapt.runner import load_config  # noqa: E402
from visadapt.backbones.build import build_backbone  # noqa: E402
from visadapt.config import to_plain  # noqa: E402

CONFIG = ROOT / "tests" / "fixtures" / "tiny_sam_shadow.py"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    torch.manual_seed(0)
    return build_backbone(to_plain(load_config(CONFIG).backbone)).save_pretrained(tmp_path_factory.mktemp("base") / "sam.safetensors")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, base):
    root = tmp_path_factory.mktemp("runs")
    assert train_tool.main([str(CONFIG), "--work-dir", str(root), "--cfg-options", f"backbone.checkpoint={base}"]) == 0
    return only_run(root)


def test_training_writes_segmentation_metrics_and_a_small_export(trained):
    metrics = results(trained)["metrics"]
    assert set(metrics) >= {"test/dice", "test/iou", "test/ber", "test/mae", "test/loss"}
    assert all(0.0 <= metrics[f"test/{k}"] <= 1.0 for k in ("dice", "iou", "ber", "mae"))
    exported = load_file(str(trained / "adapter" / "adapter.safetensors"))
    assert exported and all(".lora_" in k or k.startswith("mask_decoder.") for k in exported)
    assert (trained / "checkpoints" / "best.ckpt").is_file()


@pytest.mark.parametrize("weights", ["adapter", "checkpoints/last.ckpt"])
def test_test_tool_reproduces_the_metrics_and_draws_overlays(trained, base, weights, tmp_path, capsys):
    out = tmp_path / "overlays"
    args = [str(CONFIG), str(trained / weights), "--cfg-options", f"backbone.checkpoint={base}", "--overlays", "5"]
    assert test_tool.main(args + ["--out-dir", str(out)]) == 0
    assert f"{results(trained)['metrics']['test/dice']:.4f}" in capsys.readouterr().out
    pngs = sorted(out.glob("overlay_*.png"))
    assert len(pngs) == 5
    panel = np.asarray(Image.open(pngs[0]))
    height = panel.shape[0] - TITLE_HEIGHT
    assert height >= 192 and panel.shape[1] > 3 * height  # image | truth | prediction, titled
    assert test_tool.main(args[:4] + ["--overlays", "2"]) == 0  # default: overlays/ in the run directory
    assert len(list((trained / "overlays").glob("*.png"))) == 2


def test_merged_export_loads_into_a_stock_sam(trained, base, tmp_path):
    out = tmp_path / "merged.safetensors"
    cfg = load_config(CONFIG)
    # The export records the backbone config it was trained with (here: a checkpoint in a temporary folder).
    assert merge_tool.main([str(trained / "adapter"), "--out", str(out)]) == 0
    b = cfg.backbone
    stock = build_sam(b.image_size, dict(b.encoder), b.prompt_embed_dim, dict(b.decoder), 3)
    stock.load_state_dict(load_file(str(out)))
