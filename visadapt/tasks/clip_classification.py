"""Few-shot classification with a CLIP: image embeddings scored against class-prompt text embeddings.

One LightningModule covers zero-shot CLIP (nothing trains), CLIP-LoRA (LoRA in both towers: the class embeddings
are recomputed from the adapted text tower at every step), CoOp (learnt prompt context) and any other adapter
through the adapter API; ``CLIPLinearProbeTask`` (and ``ProLIPTask``, in its own module) train on cached features of
a frozen encoder.
Recipes: clip.md 1 (CLIP-LoRA), 2 (ProLIP), 3.4 (linear probe), 5.1 (CoOp).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from visadapt.adapters.coop import prompt_context
from visadapt.backbones.clip import OpenCLIPBackbone
from visadapt.data.feature_cache import FeatureCacheDataModule, build_feature_cache, module_fingerprint
from visadapt.registry import TASKS, ConfigError
from visadapt.tasks.base import AdaptedTask, adapter_configs


@TASKS.register()
class CLIPClassificationTask(AdaptedTask):
    """Cross-entropy on ``scale * cos(image, class prompt)``; top-1 accuracy on val / test.

    Args:
        backbone: an ``OpenCLIPBackbone`` (``split_attention=True`` to put LoRA on q / k / v).
        num_classes, class_names: the classes, named as in the prompts (filled in from the dataset by the runner).
        templates: prompt templates; several are ensembled (mean of unit embeddings). CLIP-LoRA uses
            ``"a photo of a {}."``; CoOp's per-dataset templates are in ``visadapt.data.coop.COOP_TEMPLATES``.
        adapter: adapter config(s); ``dict(type='parameters')`` trains nothing (zero-shot).
        logit_scale: the fixed scale of the cosine logits (100, as CLIP-LoRA and ProLIP hard-code), or ``None`` for
            the model's learnt temperature.

    Whether the text tower has trainable weights decides how class embeddings are made: recomputed at every
    training step (with the adapters' dropout) if so, else computed once and reused; evaluation computes them
    once per epoch without gradients.
    """

    data_inputs = ("num_classes", "class_names", "templates")
    monitor = ("val/acc", "max")

    def __init__(self, backbone: OpenCLIPBackbone, num_classes: int, class_names: Sequence[str],
                 templates: Sequence[str] = ("a photo of a {}.",), adapter: dict | list[dict] | None = None,
                 optimizer: dict | None = None, scheduler: dict | None = None, logit_scale: float | None = 100.0):
        if not isinstance(backbone, OpenCLIPBackbone):
            raise ConfigError(f"{type(self).__name__} needs an OpenCLIPBackbone, got {type(backbone).__name__}")
        if class_names is None or len(class_names) != num_classes:
            raise ConfigError(f"{type(self).__name__}: {num_classes} classes but class_names={class_names!r}")
        super().__init__(backbone, adapter_configs(adapter), optimizer, scheduler)
        self.class_names = [str(c).replace("_", " ") for c in class_names]
        self.templates = list(templates)
        self.logit_scale = logit_scale
        self.text_trainable = any(p.requires_grad for n, p in backbone.model.named_parameters()
                                  if not n.startswith("visual.") and n != "logit_scale")
        self._frozen_text: torch.Tensor | None = None
        self.criterion = nn.CrossEntropyLoss()
        self.train_acc, self.val_acc, self.test_acc = (MulticlassAccuracy(num_classes, average="micro")
                                                       for _ in range(3))

    # -- class embeddings and logits -----------------------------------------------------------------------------
    def class_embeddings(self) -> torch.Tensor:
        """[C, D] unit-length class embeddings from the current text tower (learnt prompts if CoOp is injected)."""
        context = prompt_context(self.backbone.model)
        if context is not None:
            return context.class_embeddings(self.backbone, self.class_names)
        return self.backbone.class_text_embeddings(self.class_names, self.templates)

    def text_embeddings(self) -> torch.Tensor:
        if self.training and self.text_trainable:
            return self.class_embeddings()
        if self._frozen_text is None:
            with torch.no_grad():
                self._frozen_text = self.class_embeddings()
        return self._frozen_text

    def _refresh_text(self) -> None:
        self._frozen_text = None

    on_train_start = on_validation_epoch_start = on_test_epoch_start = _refresh_text

    def scale(self) -> torch.Tensor | float:
        return self.backbone.model.logit_scale.exp() if self.logit_scale is None else self.logit_scale

    def logits_from_embeddings(self, image_embeddings: torch.Tensor) -> torch.Tensor:
        return self.scale() * image_embeddings @ self.text_embeddings().t()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits_from_embeddings(self.backbone.encode_image(images))

    # -- steps ---------------------------------------------------------------------------------------------------
    def training_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits of a training batch (images here; cached features in the subclasses)."""
        return self(inputs)

    def regularizer(self) -> torch.Tensor | float:
        return 0.0

    def training_loss(self, inputs: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the method's training objective, the logits): cross-entropy plus its regulariser."""
        logits = self.training_logits(inputs)
        return self.criterion(logits, labels) + self.regularizer(), logits

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        inputs, labels = batch
        loss, logits = self.training_loss(inputs, labels)
        self.check_finite(loss)
        self.train_acc(logits, labels)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(labels))
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, batch_size=len(labels))
        return loss

    def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str, metric: MulticlassAccuracy) -> None:
        images, labels = batch
        logits = self(images)
        metric(logits, labels)
        self.log(f"{stage}/loss", self.criterion(logits, labels), sync_dist=True, batch_size=len(labels))
        self.log(f"{stage}/acc", metric, prog_bar=True, batch_size=len(labels))

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_acc)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_acc)


class CachedFeatureTask(CLIPClassificationTask):
    """Trains on features of the frozen image encoder cached once per augmentation view (one full-batch step
    per view), and evaluates the whole model on images. Subclasses say which features: ``cache_level``
    ``pre_projection`` (pooled, before ``visual.proj``) or ``embedding`` (unit-length image embeddings)."""

    cache_level = "embedding"

    def __init__(self, *args: Any, feature_views: int = 1, feature_batch_size: int = 256,
                 feature_cache_dir: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if feature_views < 1:
            raise ConfigError(f"{type(self).__name__}: feature_views must be >= 1, got {feature_views}")
        self.feature_views, self.feature_batch_size = feature_views, feature_batch_size
        self.feature_cache_dir = feature_cache_dir

    def encode_for_cache(self, images: torch.Tensor) -> torch.Tensor:
        if self.cache_level == "pre_projection":
            return self.backbone.encode_image_pre_projection(images)
        return self.backbone.encode_image(images)

    def encoder_for_cache(self) -> nn.Module:
        """The frozen module the cached features depend on (its weights key the cache)."""
        return self.backbone.model.visual

    def cache_features(self, dataset: Any, views: int, data_key: Any, run_dir: Path) -> Path:
        """The feature cache of ``dataset`` under the frozen encoder (``views`` augmented passes)."""
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.backbone.to(device).eval()
        key = {"level": self.cache_level, "encoder": module_fingerprint(self.encoder_for_cache()), "data": data_key}
        path = build_feature_cache(self.encode_for_cache, dataset, views,
                                   self.feature_cache_dir or Path(run_dir) / "feature_cache", key,
                                   self.feature_batch_size, device)
        self.backbone.cpu()
        return path

    def prepare_fit(self, datamodule: L.LightningDataModule, run_dir: Path) -> L.LightningDataModule:
        path = self.cache_features(datamodule.train_set, self.feature_views, datamodule.train_config, run_dir)
        return FeatureCacheDataModule(datamodule, path)


@TASKS.register()
class CLIPLinearProbeTask(CachedFeatureTask):
    """A linear classifier (logistic regression) on frozen, unit-length CLIP image embeddings (CoOp's linear
    probe baseline), trained by full-batch steps over cached features; ``l2`` is the weight penalty
    ``l2 * ||W||^2`` added to the mean cross-entropy (sklearn's ``1 / (2 C N)``)."""

    cache_level = "embedding"
    head_name = "linear_probe_head"

    def __init__(self, backbone: OpenCLIPBackbone, num_classes: int, class_names: Sequence[str], l2: float = 0.0,
                 adapter: dict | list[dict] | None = None, **kwargs: Any):
        backbone.model.add_module(self.head_name, nn.Linear(backbone.num_features, num_classes))
        adapter = adapter or {"type": "linear_probe", "modules_to_save": [self.head_name]}
        super().__init__(backbone, num_classes, class_names, adapter=adapter, **kwargs)
        self.l2 = float(l2)

    @property
    def head(self) -> nn.Linear:
        return getattr(self.backbone.model, self.head_name)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.encode_image(images))

    def training_logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def regularizer(self) -> torch.Tensor:
        return self.l2 * self.head.weight.pow(2).sum()
