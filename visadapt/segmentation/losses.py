"""Mask losses on logits [B, ...] against {0, 1} targets of the same shape (one value per image).

BCE + Dice is the default of visadapt's SAM recipes (SAMed: 0.2 CE + 0.8 Dice; MSA: BCE; SAM-Adapter: BCE + IoU),
focal loss is AdapterShadow's, and the IoU-prediction loss trains SAM's IoU head to predict the IoU of its own mask.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1.0  # Dice smoothing: an empty prediction of an empty mask scores 1, not 0/0


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).float()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = EPS) -> torch.Tensor:
    """1 - soft Dice per image, averaged: ``1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)`` with p = sigmoid."""
    p, t = _flat(logits).sigmoid(), _flat(target)
    return (1 - (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)).mean()


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """Lin et al.'s focal loss, mean over pixels: ``-a_t (1 - p_t)^gamma log p_t`` (alpha weighs positives)."""
    logits, target = logits.float(), target.float()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = torch.exp(-ce)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return (alpha_t * (1 - p_t) ** gamma * ce).mean()


def iou_prediction_loss(iou_pred: torch.Tensor, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between SAM's predicted IoU [B] and the IoU of its thresholded mask with the target (no gradient
    through the mask)."""
    with torch.no_grad():
        pred, t = (_flat(logits) > 0).float(), _flat(target)
        inter, union = (pred * t).sum(1), ((pred + t) > 0).float().sum(1)
        actual = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    return F.mse_loss(iou_pred.float().reshape(-1), actual)


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, bce: float = 1.0, dice: float = 1.0,
                      focal: float = 0.0, iou_pred: torch.Tensor | None = None, iou_weight: float = 0.0
                      ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum of the terms with a non-zero weight; returns (loss, the individual terms for logging)."""
    terms: dict[str, torch.Tensor] = {}
    if bce:
        terms["bce"] = F.binary_cross_entropy_with_logits(logits.float(), target.float())
    if dice:
        terms["dice"] = dice_loss(logits, target)
    if focal:
        terms["focal"] = focal_loss(logits, target)
    if iou_weight:
        if iou_pred is None:
            raise ValueError("segmentation_loss: iou_weight > 0 needs the IoU predictions")
        terms["iou_pred"] = iou_prediction_loss(iou_pred, logits, target)
    weights = {"bce": bce, "dice": dice, "focal": focal, "iou_pred": iou_weight}
    if not terms:
        raise ValueError("segmentation_loss: every weight is zero")
    return sum(weights[k] * v for k, v in terms.items()), terms
