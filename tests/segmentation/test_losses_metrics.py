"""Mask losses and metrics on hand-computed cases."""
from __future__ import annotations

import math

import pytest
import torch

from visadapt.segmentation import (balanced_error_rate, dice_loss, dice_score, focal_loss, iou_prediction_loss,
                                   iou_score, mean_absolute_error, segmentation_loss)

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
