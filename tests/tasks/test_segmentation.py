"""SegmentationTask on a tiny SAM: what trains, prompt modes, binary and multi-class objectives, and adapter
save / load / merge round trips that give identical masks."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("segment_anything")

from tests.conftest import perturb_adapters  # noqa: E402
from visadapt import adapters as A  # noqa: E402
from visadapt.adapters.functional import injected_configs  # noqa: E402
from visadapt.backbones.sam import SAMBackbone, build_sam  # noqa: E402
from visadapt.data import ShapesSegmentationDataset  # noqa: E402
from visadapt.registry import ConfigError  # noqa: E402
from visadapt.tasks import SegmentationTask  # noqa: E402

TINY = dict(variant="custom", image_size=32, prompt_embed_dim=16,
            encoder=dict(embed_dim=32, depth=2, num_heads=2, patch_size=8, window_size=2, global_attn_indexes=[1],
                         out_chans=16),
            decoder=dict(mlp_dim=32, num_heads=2, iou_head_hidden_dim=16, mask_in_chans=4))
LORA = dict(type="lora", r=4, target_modules=["image_encoder.blocks.*.attn.qkv"], qkv_slices=["q", "v"])
MSA = [dict(type="houlsby", target_modules=["image_encoder.blocks.*.attn"], hidden_dim=8, act="gelu"),
       dict(type="adaptformer", target_modules=["image_encoder.blocks.*.mlp"], hidden_dim=8, act="gelu", scale=0.5,
            dropout=0.0, input_from=None)]


def make_task(adapter=LORA, num_classes=2, seed=0, **kwargs) -> SegmentationTask:
    torch.manual_seed(seed)
    outputs = {} if num_classes == 2 else {"num_multimask_outputs": num_classes - 1}
    return SegmentationTask(SAMBackbone(**TINY, **outputs), num_classes, adapter=adapter, **kwargs)


@pytest.fixture(scope="module")
def batch():
    ds = ShapesSegmentationDataset("objects", "val200", image_size=32, num_samples=8)
    return torch.stack([ds[i][0] for i in range(8)]), torch.stack([ds[i][1] for i in range(8)])


def test_only_the_adapters_and_the_decoder_train():
    task = make_task()
    trainable = {n for n, p in task.backbone.model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in n or n.startswith("mask_decoder.") for n in trainable)
    assert any(n.startswith("mask_decoder.") for n in trainable)
    decoder_params = sum(p.numel() for p in task.backbone.model.mask_decoder.parameters())
    frozen_decoder = make_task(train_decoder=False)
    counts = frozen_decoder.parameter_counts()
    assert counts["trainable"] == task.parameter_counts()["trainable"] - decoder_params
    assert counts["trainable"] < 0.05 * counts["total"]
    # Several adapter configs: the decoder is owned (trained and saved) once.
    msa = make_task(MSA)
    assert sum("mask_decoder" in c.modules_to_save for c in injected_configs(msa.backbone.model)) == 1


@pytest.mark.parametrize("mode", ["none", "box", "points", "grid"])
def test_a_few_steps_lower_the_loss_in_every_prompt_mode(batch, mode):
    images, masks = batch
    task = make_task(prompt=dict(mode=mode, positives=2, negatives=1))
    task.train()
    optimizer = torch.optim.Adam([p for p in task.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(12):
        logits, ious = task(images, masks, generator=torch.Generator().manual_seed(0))
        assert logits.shape == (8, 1, 32, 32) and ious.shape == (8, 1)
        loss, terms = task.objective(logits, ious, masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] and set(terms) == {"bce", "dice"}


def test_prompts_are_repeatable_and_a_mode_list_is_drawn_per_batch(batch):
    images, masks = batch
    task = make_task(prompt=dict(mode=["box", "points", "none"]))
    task.eval()
    with torch.no_grad():
        first = task(images, masks, "points", SegmentationTask._generator("val", 3))[0]
        again = task(images, masks, "points", SegmentationTask._generator("val", 3))[0]
        other = task(images, masks, "points", SegmentationTask._generator("val", 4))[0]
    torch.testing.assert_close(first, again)
    assert not torch.equal(first, other)
    drawn = {task.prompt.pick(True, SegmentationTask._generator("train-mode", s)) for s in range(40)}
    assert drawn == {"box", "points", "none"} and task.prompt.pick(False, None) == "box"
    with pytest.raises(ConfigError, match="prompt.mode"):
        make_task(prompt=dict(mode="scribble"))
    with pytest.raises(ConfigError, match="grid_size"):
        make_task(prompt=dict(mode="grid", grid=4))
    with pytest.raises(ValueError, match="ground-truth"):
        task(images, None, "box")


def test_ignored_pixels_count_nowhere(batch):
    images, masks = batch
    task = make_task().eval()
    with torch.no_grad():
        logits, ious = task(images, masks)
        loss, _ = task.objective(logits, ious, masks)
        pred, prob = task.decide(logits)
        hidden = masks.clone()
        hidden[:, :8] = 255
        changed = logits.clone()
        changed[:, :, :8] = -changed[:, :, :8]  # flip the prediction where it is ignored
        masked_loss, _ = task.objective(changed, ious, hidden)
        expected, _ = task.objective(logits, ious, hidden)
        torch.testing.assert_close(masked_loss, expected)
        a = task.scores(*task.decide(changed), hidden)
        b = task.scores(pred, prob, hidden)
        for name in a:
            torch.testing.assert_close(a[name], b[name])


def test_multi_class_decodes_one_token_per_class_with_ce_and_dice():
    ds = ShapesSegmentationDataset("shapes", "val200", image_size=32, num_samples=4)
    images, masks = torch.stack([ds[i][0] for i in range(4)]), torch.stack([ds[i][1] for i in range(4)])
    task = make_task(num_classes=ds.num_classes)
    logits, ious = task(images, masks)
    assert logits.shape == (4, ds.num_classes, 32, 32)
    loss, terms = task.objective(logits, ious, masks)
    assert set(terms) == {"ce", "dice"} and torch.isfinite(loss)
    loss.backward()
    assert task.backbone.model.mask_decoder.mask_tokens.weight.grad is not None
    pred, prob = task.decide(logits)
    assert pred.shape == (4, 32, 32) and int(pred.max()) < ds.num_classes
    with pytest.raises(ConfigError, match="num_multimask_outputs=8"):
        SegmentationTask(SAMBackbone(**TINY), ds.num_classes, adapter=LORA)
    with pytest.raises(ConfigError, match="multi-class"):
        make_task(num_classes=ds.num_classes, prompt=dict(mode="box"))
    with pytest.raises(ConfigError, match="loss term"):
        make_task(loss=dict(ce=1.0))


@pytest.mark.parametrize("adapter", [LORA, MSA], ids=["lora", "msa_adapters"])
def test_save_load_and_merge_give_identical_masks(batch, tmp_path, adapter):
    images, masks = batch
    task = make_task(adapter, prompt=dict(mode="box"))
    perturb_adapters(task.backbone.model)
    task.eval()
    with torch.no_grad():
        expected = task(images, masks)[0]
    A.save_adapter(task.backbone.model, tmp_path / "adapter")
    fresh = make_task(adapter, prompt=dict(mode="box")).eval()
    A.load_adapter(fresh.backbone.model, tmp_path / "adapter")
    with torch.no_grad():
        torch.testing.assert_close(fresh(images, masks)[0], expected, atol=0, rtol=0)
    if adapter is MSA:
        return  # bottleneck adapters stay modules (nothing to merge)
    A.merge(fresh.backbone.model)
    with torch.no_grad():
        merged = fresh(images, masks)[0]
    torch.testing.assert_close(merged, expected, atol=1e-5, rtol=1e-4)
    assert torch.equal(merged > 0, expected > 0)
    stock = build_sam(32, TINY["encoder"], 16, TINY["decoder"], 3)
    stock.load_state_dict(fresh.backbone.model.state_dict())  # a merged state dict is a stock Sam's


def test_a_full_fine_tuning_export_carries_the_random_buffers_of_a_model_trained_from_scratch(batch, tmp_path):
    # SAM's prompt encoder draws a random Fourier matrix (a buffer) at build time; a model trained from scratch
    # must export it, or a rebuild with another seed gives other masks.
    images, masks = batch
    task = make_task(dict(type="full"), prompt=dict(mode="box")).eval()
    A.save_adapter(task.backbone.model, tmp_path / "full")
    other = make_task(dict(type="full"), seed=1, prompt=dict(mode="box")).eval()
    A.load_adapter(other.backbone.model, tmp_path / "full")
    with torch.no_grad():
        torch.testing.assert_close(other(images, masks)[0], task(images, masks)[0], atol=0, rtol=0)
    assert task.parameter_counts()["trainable"] == task.parameter_counts()["total"]
