"""tools/train.py, tools/test.py and tools/merge_adapter.py end to end on a seconds-long config."""
from __future__ import annotations

import csv

import pytest
import timm
import torch
from safetensors.torch import load_file

from tests.runner.helpers import TINY, only_run, results, tiny_base_weights
from tools import merge_adapter as merge_tool
from tools import test as test_tool
from tools import train as train_tool
from visadapt import adapters as A


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tiny_base_weights(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, base):
    root = tmp_path_factory.mktemp("runs")
    assert train_tool.main([str(TINY), "--work-dir", str(root), "--cfg-options", f"backbone.pretrained={base}"]) == 0
    return only_run(root)


def test_run_directory_layout(trained):
    for path in ("config.py", "logs/metrics.csv", "checkpoints/last.ckpt", "checkpoints/best.ckpt",
                 "adapter/adapter.safetensors", "adapter/adapter_config.json", "results.json"):
        assert (trained / path).is_file(), path
    assert list((trained / "tb").glob("events.out.tfevents.*"))
    res = results(trained)
    assert 0.0 <= res["metrics"]["test/acc"] <= 1.0 and res["epochs"] == 2
    assert res["parameters"]["trainable"] < res["parameters"]["total"]
    rows = list(csv.DictReader(open(trained / "logs/metrics.csv")))
    assert any(r.get("val/acc") for r in rows) and any(r.get("train/loss") for r in rows)
    assert "lora" in (trained / "config.py").read_text()


def test_checkpoint_holds_only_trainable_tensors(trained):
    ckpt = torch.load(trained / "checkpoints/last.ckpt", weights_only=True)
    adapter = load_file(str(trained / "adapter/adapter.safetensors"))
    assert {k.removeprefix("backbone.model.") for k in ckpt["state_dict"]} == set(adapter)
    assert all(".lora_" in k or k.startswith("head.") for k in adapter)
    assert "RNGStateCallback" in ckpt["callbacks"]


@pytest.mark.parametrize("weights", ["checkpoints/last.ckpt", "adapter"])
def test_test_tool_reproduces_the_final_metrics(trained, base, weights, capsys):
    assert test_tool.main([str(TINY), str(trained / weights), "--cfg-options", f"backbone.pretrained={base}"]) == 0
    assert f"{results(trained)['metrics']['test/acc']:.4f}" in capsys.readouterr().out


def test_merged_checkpoint_loads_in_plain_timm(trained, base, tmp_path):
    out = tmp_path / "merged.safetensors"
    assert merge_tool.main([str(trained / "adapter"), "--out", str(out)]) == 0
    from visadapt.runner import load_config
    from visadapt.backbones.build import build_backbone
    from visadapt.config import to_plain

    adapted = build_backbone(to_plain(load_config(TINY, {"backbone.pretrained": str(base)}).backbone), num_classes=8).eval()
    A.load_adapter(adapted.model, trained / "adapter")
    plain = timm.create_model("vit_tiny_patch16_224", pretrained=True, num_classes=8, img_size=16, patch_size=4,
                              depth=2, embed_dim=24, num_heads=2,
                              pretrained_cfg_overlay=dict(file=str(out), num_classes=8)).eval()
    x = torch.rand(4, 3, 16, 16)
    torch.testing.assert_close(plain(adapted.normalize(x)), adapted(x), atol=1e-5, rtol=0)


def test_merge_tool_refuses_bottleneck_adapters(tmp_path, base, capsys):
    config = tmp_path / "pfeiffer.py"  # an experiment config that inherits and replaces the adapter, mmengine-style
    config.write_text(f"_base_ = ['{TINY}']\nadapter = dict(_delete_=True, type='pfeiffer', hidden_dim=4)\n")
    root = tmp_path / "runs"
    assert train_tool.main([str(config), "--work-dir", str(root), "--cfg-options", "trainer.max_epochs=1",
                            f"backbone.pretrained={base}"]) == 0
    run = only_run(root)
    assert merge_tool.main([str(run / "adapter"), "--out", str(tmp_path / "m.safetensors")]) == 1
    assert "cannot be folded" in capsys.readouterr().err
