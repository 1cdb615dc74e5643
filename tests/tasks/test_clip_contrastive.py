"""CLIPContrastiveTask: open_clip's loss on (image, caption) batches, retrieval accuracy, a few learning steps."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("open_clip")

from tests.backbones.test_clip import TINY_CLIP  # noqa: E402
from visadapt.backbones import OpenCLIPBackbone  # noqa: E402
from visadapt.registry import ConfigError  # noqa: E402
from visadapt.tasks import CLIPContrastiveTask  # noqa: E402

CAPTIONS = ["a red circle", "a blue square", "a green star", "a red circle"]


def make_task():
    torch.manual_seed(0)
    return CLIPContrastiveTask(OpenCLIPBackbone(model_cfg=TINY_CLIP), optimizer=dict(type="AdamW", lr=1e-2))


def test_loss_is_clip_symmetric_infonce():
    task = make_task()
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    loss, logits = task.objective(images, CAPTIONS)
    target = torch.arange(4)
    expected = (torch.nn.functional.cross_entropy(logits, target)
                + torch.nn.functional.cross_entropy(logits.t(), target)) / 2
    torch.testing.assert_close(loss, expected)


def test_steps_lower_the_loss():
    task = make_task()
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW(task.parameters(), lr=1e-2)
    first = task.objective(images, CAPTIONS[:3])[0].item()
    for _ in range(10):
        loss, _ = task.objective(images, CAPTIONS[:3])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_retrieval_accuracy_counts_identical_captions_as_hits(monkeypatch):
    task = make_task()
    logged = {}
    monkeypatch.setattr(task, "log", lambda name, value, **kw: logged.__setitem__(name, float(value)))
    # images 0 and 3 retrieve each other's caption (the same text); image 1 retrieves image 2's (a miss)
    logits = torch.eye(4)[[3, 2, 2, 0]]
    monkeypatch.setattr(task, "objective", lambda i, c: (torch.tensor(0.0), logits))
    task._evaluate((torch.zeros(4, 3, 16, 16), CAPTIONS), "test")
    assert logged["test/acc"] == 0.75


def test_needs_a_clip_backbone(tiny_vit):
    with pytest.raises(ConfigError, match="needs an OpenCLIPBackbone"):
        CLIPContrastiveTask(tiny_vit())
