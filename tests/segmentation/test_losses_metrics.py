"""Mask losses, metrics and prompt modes on hand-computed cases."""
from __future__ import annotations

import math

import pytest
import torch

from visadapt.registry import ConfigError
from visadapt.segmentation import (PromptConfig, balanced_error_rate, dice_loss, dice_score, focal_loss,
                                   iou_prediction_loss, iou_score, mean_absolute_error, multiclass_dice_loss,
                                   multiclass_scores, multiclass_segmentation_loss, segmentation_loss)

# One image of 8 pixels: target 4 positives; prediction 3 of them + 1 false positive.
TARGET = torch.tensor([[1, 1, 1, 1, 0, 0, 0, 0]])
PRED = torch.tensor([[1, 1, 1, 0, 1, 0, 0, 0]])


def test_metrics_by_hand():
    # TP 3, FP 1, FN 1, TN 3
    assert dice_score(PRED, TARGET).item() == pytest.approx(6 / 8)
    assert iou_score(PRED, TARGET).item() == pytest.approx(3 / 5)
    assert balanced_error_rate(PRED, TARGET).item() == pytest.approx(1 - (3 / 4 + 3 / 4) / 2)
    assert mean_absolute_error(PRED * 0.5, TARGET).item() == pytest.approx((3 * 0.5 + 1 + 0.5) / 8)
    empty = torch.zeros(1, 8)
    assert dice_score(empty, empty).item() == 1 and iou_score(empty, empty).item() == 1
    assert balanced_error_rate(empty, empty).item() == 0
    both = torch.stack([PRED[0], TARGET[0]])
    assert iou_score(both, torch.stack([TARGET[0], TARGET[0]])).tolist() == pytest.approx([0.6, 1.0])


def test_losses_by_hand():
    logits = torch.tensor([[0.0, 0.0]])
    target = torch.tensor([[1.0, 0.0]])
    # p = 0.5 everywhere: soft Dice = (2*0.5 + 1) / (1 + 1 + 1)
    assert dice_loss(logits, target).item() == pytest.approx(1 - 2 / 3)
    # focal at p_t = 0.5: alpha_t * 0.25 * ln 2, alpha_t = 0.25 and 0.75
    assert focal_loss(logits, target).item() == pytest.approx((0.25 + 0.75) / 2 * 0.25 * math.log(2))
    loss, terms = segmentation_loss(logits, target, bce=1.0, dice=0.5)
    assert terms["bce"].item() == pytest.approx(math.log(2))
    assert loss.item() == pytest.approx(math.log(2) + 0.5 * (1 - 2 / 3))
    # thresholded prediction [1, 0]... logits 0 -> not > 0 -> empty prediction: IoU 0 with target [1, 0]
    assert iou_prediction_loss(torch.tensor([0.5]), logits, target).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="IoU predictions"):
        segmentation_loss(logits, target, iou_weight=1.0)


def test_ignored_pixels_drop_out_of_every_binary_term():
    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    target = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    valid = torch.tensor([[1.0, 1.0, 1.0, 0.0]])  # the last (badly wrong) pixel is ignored
    _, terms = segmentation_loss(logits, target, focal=1.0, valid=valid)
    _, kept = segmentation_loss(logits[:, :3], target[:, :3], focal=1.0)
    for name in ("bce", "dice", "focal"):
        assert terms[name].item() == pytest.approx(kept[name].item())


def test_multiclass_losses_and_scores_by_hand():
    # 2 pixels, 3 classes; logits 0 everywhere: softmax 1/3 per class.
    logits = torch.zeros(1, 3, 2)
    target = torch.tensor([[1, 2]])
    # Classes 1 and 2 (one pixel each): Dice (2 * 1/3 + 1) / (2/3 + 1 + 1) = 5/8; class 0 (absent):
    # (0 + 1) / (2/3 + 0 + 1) = 3/5.  Loss = mean(3/8, 3/8, 2/5).
    expected = (3 / 8 + 3 / 8 + 2 / 5) / 3
    assert multiclass_dice_loss(logits, target).item() == pytest.approx(expected)
    # Pooled over the batch: two one-pixel images are one two-pixel image.
    split = multiclass_dice_loss(logits.reshape(3, 2, 1).transpose(0, 1), target.reshape(2, 1))
    assert split.item() == pytest.approx(expected)
    loss, terms = multiclass_segmentation_loss(logits, target, ce=0.2, dice=0.8)
    assert terms["ce"].item() == pytest.approx(math.log(3))
    assert loss.item() == pytest.approx(0.2 * math.log(3) + 0.8 * expected)
    ignored = torch.tensor([[1, 255]])
    _, only_first = multiclass_segmentation_loss(logits, ignored)
    assert only_first["ce"].item() == pytest.approx(math.log(3))
    # Scores average over the classes present in the target or the prediction of each image.
    pred = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]])
    truth = torch.tensor([[1, 2, 0, 0], [0, 0, 0, 0]])
    scores = multiclass_scores(pred, truth, num_classes=4)
    # image 0: class 1 Dice 2/3 IoU 1/2, class 2 Dice 0 IoU 0, class 3 absent -> mean over 2 classes.
    assert scores["dice"].tolist() == pytest.approx([1 / 3, 1.0])
    assert scores["iou"].tolist() == pytest.approx([1 / 4, 1.0])
    masked = multiclass_scores(pred, truth, 4, valid=torch.tensor([[1, 0, 1, 1], [1, 1, 1, 1]]))
    assert masked["dice"].tolist() == pytest.approx([1.0, 1.0])


def test_prompt_config_modes():
    masks = torch.zeros(2, 8, 8)
    masks[0, 1:3, 2:5] = 1
    masks[1, 5:8, 0:2] = 1
    cfg = PromptConfig(mode=["box", "points", "grid", "none"], positives=2, negatives=1, grid_size=2)
    assert cfg.prompts("box", masks)["boxes"].tolist() == [[2, 1, 5, 3], [0, 5, 2, 8]]
    coords, labels = cfg.prompts("points", masks, torch.Generator().manual_seed(0))["points"]
    assert coords.shape == (2, 3, 2) and labels.tolist() == [[1, 1, 0], [1, 1, 0]]
    for (x, y), label in zip(coords[0].tolist(), labels[0].tolist()):
        assert masks[0, int(y), int(x)] == label  # (x, y) = (column, row)
    grid, _ = cfg.prompts("grid", masks)["points"]
    assert grid.tolist() == [[[2.0, 2.0], [6.0, 2.0], [2.0, 6.0], [6.0, 6.0]]]  # one prompt shared by the batch
    assert cfg.prompts("none", masks) == {} and cfg.needs_mask
    assert not PromptConfig(mode="grid").needs_mask
    with pytest.raises(ConfigError, match="positives"):
        PromptConfig(mode="points", positives=0)
