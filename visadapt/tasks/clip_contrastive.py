"""Contrastive image-text training of a CLIP backbone (how the model-zoo CLIP is pretrained on the shapes world)."""
from __future__ import annotations

import torch

from visadapt.backbones.clip import OpenCLIPBackbone
from visadapt.registry import TASKS, ConfigError
from visadapt.tasks.base import AdaptedTask, adapter_configs


@TASKS.register()
class CLIPContrastiveTask(AdaptedTask):
    """CLIP's symmetric InfoNCE over (image, caption) batches (open_clip's ``ClipLoss``, learnt temperature).

    Batches are ``(images in [0, 1], list of captions)``, e.g. from ``ShapesCaptionDataset``. ``val/acc`` and
    ``test/acc`` are in-batch image-to-text retrieval top-1: an image counts as right when the caption it scores
    highest is its own text (an identical caption of another image in the batch counts too).
    """

    monitor = ("val/acc", "max")

    def __init__(self, backbone: OpenCLIPBackbone, adapter: dict | list[dict] | None = None,
                 optimizer: dict | None = None, scheduler: dict | None = None):
        if not isinstance(backbone, OpenCLIPBackbone):
            raise ConfigError(f"CLIPContrastiveTask needs an OpenCLIPBackbone, got {type(backbone).__name__}")
        super().__init__(backbone, adapter_configs(adapter), optimizer, scheduler)
        from open_clip.loss import ClipLoss

        self.criterion = ClipLoss()

    def objective(self, images: torch.Tensor, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(contrastive loss, [B, B] image-text similarity logits)."""
        image_emb, text_emb = self.backbone.encode_image(images), self.backbone.encode_text(captions)
        scale = self.backbone.model.logit_scale.exp()
        return self.criterion(image_emb, text_emb, scale), scale * image_emb @ text_emb.t()

    def training_step(self, batch: tuple[torch.Tensor, list[str]], batch_idx: int) -> torch.Tensor:
        loss, _ = self.objective(*batch)
        self.check_finite(loss)
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/temperature", 1 / self.backbone.model.logit_scale.exp())
        return loss

    def _evaluate(self, batch: tuple[torch.Tensor, list[str]], stage: str) -> None:
        images, captions = batch
        loss, logits = self.objective(images, captions)
        picked = logits.argmax(1).tolist()
        hits = torch.tensor([float(captions[j] == captions[i]) for i, j in enumerate(picked)])
        self.log(f"{stage}/loss", loss, sync_dist=True, batch_size=len(captions))
        self.log(f"{stage}/acc", hits.mean(), prog_bar=True, sync_dist=True, batch_size=len(captions))

    def validation_step(self, batch: tuple[torch.Tensor, list[str]], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, list[str]], batch_idx: int) -> None:
        self._evaluate(batch, "test")
