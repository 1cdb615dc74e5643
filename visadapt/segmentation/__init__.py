"""Mask losses, metrics and prompts for segmentation (SAM adaptation)."""
from visadapt.segmentation.losses import (dice_loss, focal_loss, iou_prediction_loss, multiclass_dice_loss,
                                          multiclass_segmentation_loss, segmentation_loss)
from visadapt.segmentation.metrics import (balanced_error_rate, dice_score, iou_score, mean_absolute_error,
                                           multiclass_scores)
from visadapt.segmentation.prompts import PromptConfig, boxes_from_masks, grid_points, sample_points

__all__ = ["PromptConfig", "balanced_error_rate", "boxes_from_masks", "dice_loss", "dice_score", "focal_loss",
           "grid_points", "iou_prediction_loss", "iou_score", "mean_absolute_error", "multiclass_dice_loss",
           "multiclass_scores", "multiclass_segmentation_loss", "sample_points", "segmentation_loss"]
