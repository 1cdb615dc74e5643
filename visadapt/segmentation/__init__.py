"""Binary / per-class mask losses and metrics for segmentation (SAM adaptation)."""
from visadapt.segmentation.losses import dice_loss, focal_loss, iou_prediction_loss, segmentation_loss
from visadapt.segmentation.metrics import balanced_error_rate, dice_score, iou_score, mean_absolute_error

__all__ = ["balanced_error_rate", "dice_loss", "dice_score", "focal_loss", "iou_prediction_loss", "iou_score",
           "mean_absolute_error", "segmentation_loss"]
