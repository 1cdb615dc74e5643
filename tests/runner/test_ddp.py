"""Scale-out goes through Lightning: a 2-process DDP job on CPU completes with its adapter export intact."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from tests.runner.helpers import TINY, only_run, results, tiny_base_weights, tool
from visadapt import adapters as A
from visadapt.runner import load_config
from visadapt.backbones.build import build_backbone
from visadapt.config import to_plain


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tmp_path):
    base = tiny_base_weights(tmp_path)
    root = tmp_path / "runs"
    tool("train", TINY, "--work-dir", root, "--cfg-options", "trainer.strategy=ddp", "trainer.devices=2",
         "trainer.accelerator=cpu", f"backbone.pretrained={base}", timeout=600)
    run = only_run(root)  # both processes wrote into one run directory
    assert results(run)["epochs"] == 2
    saved = load_file(str(run / "adapter" / "adapter.safetensors"))
    backbone = build_backbone(to_plain(load_config(TINY, {"backbone.pretrained": str(base)}).backbone), num_classes=8)
    A.load_adapter(backbone.model, run / "adapter")
    assert set(saved) == set(A.adapter_state_dict(backbone.model))
    assert any(torch.count_nonzero(v) for k, v in saved.items() if "lora_B" in k)  # trained, not the zero init
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert {k.removeprefix("backbone.model.") for k in ckpt["state_dict"]} == set(saved)
