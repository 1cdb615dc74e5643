"""ClassificationTask: what trains, the loss, what a checkpoint keeps."""
from __future__ import annotations

import pytest
import torch

from visadapt.adapters.mosa import symmetric_kl
from visadapt.tasks import ClassificationTask, NonFiniteLossError


def _task(tiny_vit, adapter):
    return ClassificationTask(tiny_vit(), num_classes=5, adapter=adapter)


def test_head_trains_with_every_method_and_checkpoint_keys(tiny_vit):
    task = _task(tiny_vit, dict(type="lora", r=2))
    keys = task.checkpoint_keys()
    assert "backbone.model.head.weight" in keys and all(k.startswith("backbone.model.") for k in keys)
    checkpoint = {"state_dict": task.state_dict()}
    task.on_save_checkpoint(checkpoint)
    assert sorted(checkpoint["state_dict"]) == sorted(keys)
    with pytest.raises(KeyError, match="lacks 1 adapter tensor"):
        task.on_load_checkpoint({"state_dict": {k: v for k, v in checkpoint["state_dict"].items() if k != keys[0]}})


def test_mosa_consistency_adds_the_symmetric_kl_of_two_stochastic_passes(tiny_vit, images):
    task = _task(tiny_vit, dict(type="mosa", hidden_dim=4, consistency_weight=0.5)).train()
    assert [type(cb).__name__ for cb in task.configure_callbacks()] == ["MoSACallback"]  # brought by the adapter
    outputs = []
    task.backbone.register_forward_hook(lambda module, args, out: outputs.append(out))
    labels = torch.tensor([0, 1, 2])
    loss = task.training_step((images, labels), 0)
    first, second = outputs
    expected = torch.nn.functional.cross_entropy(first, labels) + 0.5 * symmetric_kl(first, second)
    torch.testing.assert_close(loss, expected)
    assert _task(tiny_vit, dict(type="lora", r=2)).configure_callbacks() == []


def test_non_finite_loss_raises_before_any_update(tiny_vit, images):
    task = _task(tiny_vit, dict(type="linear_probe")).train()
    with pytest.raises(NonFiniteLossError, match="non-finite loss"):
        task.training_step((images * float("nan"), torch.tensor([0, 1, 2])), 0)
