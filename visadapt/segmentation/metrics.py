"""Per-image mask metrics on {0, 1} predictions and targets [B, ...]; each returns [B] (average them yourself).

Dice and IoU score an empty prediction of an empty target as 1. BER (balanced error rate, the shadow-detection
metric) is ``1 - (TP/P + TN/N) / 2``; MAE compares a soft prediction in [0, 1] with the target.
"""
from __future__ import annotations

import torch


def _counts(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, ...]:
    p, t = pred.reshape(pred.shape[0], -1).bool(), target.reshape(target.shape[0], -1).bool()
    tp = (p & t).sum(1).float()
    fp = (p & ~t).sum(1).float()
    fn = (~p & t).sum(1).float()
    tn = (~p & ~t).sum(1).float()
    return tp, fp, fn, tn


def dice_score(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    tp, fp, fn, _ = _counts(pred, target)
    denom = 2 * tp + fp + fn
    return torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.ones_like(denom))


def iou_score(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    tp, fp, fn, _ = _counts(pred, target)
    denom = tp + fp + fn
    return torch.where(denom > 0, tp / denom.clamp(min=1), torch.ones_like(denom))


def balanced_error_rate(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - (TP/(TP+FN) + TN/(TN+FP)) / 2``; a class absent from the target counts as perfectly recalled."""
    tp, fp, fn, tn = _counts(pred, target)
    pos, neg = tp + fn, tn + fp
    recall_pos = torch.where(pos > 0, tp / pos.clamp(min=1), torch.ones_like(pos))
    recall_neg = torch.where(neg > 0, tn / neg.clamp(min=1), torch.ones_like(neg))
    return 1 - (recall_pos + recall_neg) / 2


def mean_absolute_error(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (prob.float() - target.float()).abs().reshape(prob.shape[0], -1).mean(1)


def multiclass_scores(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                      valid: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Per-image Dice and IoU of class-index masks [B, ...], averaged over the foreground classes (1..K-1)
    present in the image's target or prediction; an image of background only scores 1. Pixels outside ``valid``
    count nowhere."""
    if valid is not None:
        pred, target = torch.where(valid.bool(), pred, 0), torch.where(valid.bool(), target, 0)
    dice, iou, present = [], [], []
    for c in range(1, num_classes):
        p, t = pred == c, target == c
        dice.append(dice_score(p, t))
        iou.append(iou_score(p, t))
        present.append((p | t).reshape(p.shape[0], -1).any(1).float())
    weight = torch.stack(present, 1)
    count = weight.sum(1)

    def average(values: list[torch.Tensor]) -> torch.Tensor:
        total = (torch.stack(values, 1) * weight).sum(1)
        return torch.where(count > 0, total / count.clamp(min=1), torch.ones_like(count))

    return {"dice": average(dice), "iou": average(iou)}
