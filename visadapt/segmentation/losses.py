"""Mask losses on logits against targets of the same shape, one image per row of the batch.

Binary losses take logits [B, ...] and {0, 1} targets; multi-class ones take logits [B, K, ...] and class-index
targets [B, ...]. ``valid`` ({0, 1}, like the target) drops ignored pixels from every term.
BCE + Dice is the default of visadapt's SAM recipes (SAMed: 0.2 CE + 0.8 Dice; MSA: BCE; SAM-Adapter: BCE + IoU),
focal loss is AdapterShadow's, and the IoU-prediction loss trains SAM's IoU head to predict the IoU of its own mask.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1.0  # Dice smoothing: an empty prediction of an empty mask scores 1, not 0/0


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).float()


def _mean(values: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    if valid is None:
        return values.mean()
    valid = valid.float()
    return (values * valid).sum() / valid.sum().clamp(min=1)


def _soft_dice(p: torch.Tensor, t: torch.Tensor, smooth: float) -> torch.Tensor:
    """Per-row ``1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)`` for [N, P] probabilities and targets."""
    return 1 - (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)


def bce_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    return _mean(F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none"), valid)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = EPS,
              valid: torch.Tensor | None = None) -> torch.Tensor:
    """1 - soft Dice per image, averaged: ``1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)`` with p = sigmoid."""
    p, t = _flat(logits).sigmoid(), _flat(target)
    if valid is not None:
        p, t = p * _flat(valid), t * _flat(valid)
    return _soft_dice(p, t, smooth).mean()


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0,
               valid: torch.Tensor | None = None) -> torch.Tensor:
    """Lin et al.'s focal loss, mean over pixels: ``-a_t (1 - p_t)^gamma log p_t`` (alpha weighs positives)."""
    logits, target = logits.float(), target.float()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = torch.exp(-ce)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return _mean(alpha_t * (1 - p_t) ** gamma * ce, valid)


def iou_prediction_loss(iou_pred: torch.Tensor, logits: torch.Tensor, target: torch.Tensor,
                        valid: torch.Tensor | None = None) -> torch.Tensor:
    """MSE between SAM's predicted IoU [B] and the IoU of its thresholded mask with the target (no gradient
    through the mask)."""
    with torch.no_grad():
        pred, t = (_flat(logits) > 0).float(), _flat(target)
        if valid is not None:
            pred, t = pred * _flat(valid), t * _flat(valid)
        inter, union = (pred * t).sum(1), ((pred + t) > 0).float().sum(1)
        actual = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    return F.mse_loss(iou_pred.float().reshape(-1), actual)


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, bce: float = 1.0, dice: float = 1.0,
                      focal: float = 0.0, iou_pred: torch.Tensor | None = None, iou_weight: float = 0.0,
                      valid: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Binary masks: weighted sum of the terms with a non-zero weight; returns (loss, the terms for logging)."""
    terms: dict[str, torch.Tensor] = {}
    if bce:
        terms["bce"] = bce_loss(logits, target, valid)
    if dice:
        terms["dice"] = dice_loss(logits, target, valid=valid)
    if focal:
        terms["focal"] = focal_loss(logits, target, valid=valid)
    if iou_weight:
        if iou_pred is None:
            raise ValueError("segmentation_loss: iou_weight > 0 needs the IoU predictions")
        terms["iou_pred"] = iou_prediction_loss(iou_pred, logits, target, valid)
    weights = {"bce": bce, "dice": dice, "focal": focal, "iou_pred": iou_weight}
    if not terms:
        raise ValueError("segmentation_loss: every weight is zero")
    return sum(weights[k] * v for k, v in terms.items()), terms


def multiclass_dice_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None,
                         smooth: float = EPS) -> torch.Tensor:
    """1 - soft Dice of the softmax against each class (background included), each class pooled over the whole
    batch, averaged over the K classes (SAMed's / TransUNet's ``DiceLoss(softmax=True)``). Pooling over the batch
    matters: per image, the many classes absent from it would reward predicting nothing."""
    k = logits.shape[1]
    p = logits.float().softmax(1).transpose(0, 1).reshape(k, -1)  # [K, B * P]
    t = F.one_hot(target.long().clamp(0, k - 1), k).movedim(-1, 0).reshape(k, -1).float()
    if valid is not None:
        v = valid.reshape(1, -1).float()
        p, t = p * v, t * v
    return _soft_dice(p, t, smooth).mean()


def multiclass_segmentation_loss(logits: torch.Tensor, target: torch.Tensor, ce: float = 1.0, dice: float = 1.0,
                                 ignore_index: int = 255) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Class-index masks (SAMed's recipe is ce 0.2, dice 0.8): cross-entropy + multi-class soft Dice."""
    valid = target != ignore_index
    terms: dict[str, torch.Tensor] = {}
    if ce:
        terms["ce"] = F.cross_entropy(logits.float(), target.long(), ignore_index=ignore_index)
    if dice:
        terms["dice"] = multiclass_dice_loss(logits, torch.where(valid, target, 0), valid)
    if not terms:
        raise ValueError("multiclass_segmentation_loss: every weight is zero")
    weights = {"ce": ce, "dice": dice}
    return sum(weights[k] * v for k, v in terms.items()), terms
