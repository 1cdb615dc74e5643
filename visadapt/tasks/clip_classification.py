"""Few-shot classification with a CLIP: image embeddings scored against class-prompt text embeddings.

One LightningModule covers zero-shot CLIP (nothing trains), CLIP-LoRA (LoRA in both towers: the class embeddings
are recomputed from the adapted text tower at every step), CoOp (learnt prompt context) and any other adapter
through the adapter API; ``ProLIPTask`` and ``CLIPLinearProbeTask`` train on cached features of a frozen encoder.
Recipes: clip.md 1 (CLIP-LoRA), 2 (ProLIP), 3.4 (linear probe), 5.1 (CoOp).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from visadapt.adapters.coop import prompt_context
from visadapt.backbones.clip import OpenCLIPBackbone
from visadapt.data.feature_cache import FeatureCacheDataModule, FeatureViews, build_feature_cache, module_fingerprint
from visadapt.data.fewshot import FewShotDataset
from visadapt.registry import TASKS, ConfigError, check_kwargs
from visadapt.tasks.base import AdaptedTask, adapter_configs
from visadapt.tasks.optim import build_optimizer, build_scheduler


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

    def training_data(self, datamodule: L.LightningDataModule, run_dir: Path) -> L.LightningDataModule:
        path = self.cache_features(datamodule.train_set, self.feature_views, datamodule.train_config, run_dir)
        return FeatureCacheDataModule(datamodule, path)


# ProLIP's few-shot validation grid (clip.md 2.2, configs/experiments/few_shot_few_val.yaml, the LP++ setting).
PROLIP_LRS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
PROLIP_LAMBDAS = (10.0, 1.0, 0.1, 0.01, 1e-3, 1e-4, 0.0)
SEARCH_FILE = "prolip_search.json"


@TASKS.register()
class ProLIPTask(CachedFeatureTask):
    """ProLIP (Fahes et al., arXiv:2410.05270): only ``visual.proj`` trains, on cached pre-projection features of
    augmented support views, with loss ``CE + lambda * ||W - W0||_F^2`` (W0 the pretrained projection).

    Args:
        shots: K (filled in by the runner from the few-shot dataset); sets ``reg_lambda = 1 / shots`` by default.
        reg_lambda: lambda; ``None`` for ProLIP's validation-free 1/K.
        feature_views: cached augmented views of the support set (ProLIP: 300, one per step).
        search: ProLIP's other protocol, ``dict(split='val200', lrs=PROLIP_LRS, lambdas=PROLIP_LAMBDAS)``: K
            images per class drawn (with the run's seed) from ``split`` of the training dataset, a split that is
            neither the training nor the test split; every (lr, lambda) pair is trained from W0 as the final run
            is (one step per cached view) and scored by top-1 on those images (ties: lower val loss, then grid
            order); the final run then trains with the chosen pair. The grid and the draw are written to
            ``prolip_search.json`` in the run directory. The search trains in fp32 (on the GPU when there is one).
    """

    cache_level = "pre_projection"

    def __init__(self, backbone: OpenCLIPBackbone, num_classes: int, class_names: Sequence[str],
                 shots: int | None = None, reg_lambda: float | None = None, feature_views: int = 300,
                 search: dict | None = None, adapter: dict | list[dict] | None = None, **kwargs: Any):
        adapter = adapter or {"type": "parameters", "parameters": ["visual.proj"]}
        super().__init__(backbone, num_classes, class_names, adapter=adapter, feature_views=feature_views, **kwargs)
        proj = backbone.model.visual.proj
        if proj is None or not proj.requires_grad:
            raise ConfigError("ProLIPTask: the adapter must train 'visual.proj' (the last visual projection)")
        self.shots, self.search = shots, None
        if search is not None:
            check_kwargs(lambda split, lrs=PROLIP_LRS, lambdas=PROLIP_LAMBDAS: None, search, where="ProLIPTask.search")
            if "split" not in search or reg_lambda is not None:
                raise ConfigError("ProLIPTask: search needs its validation 'split' and chooses lambda itself "
                                  f"(reg_lambda must be None); got search={search}, reg_lambda={reg_lambda}")
            self.search = {"split": search["split"], "lrs": [float(v) for v in search.get("lrs", PROLIP_LRS)],
                           "lambdas": [float(v) for v in search.get("lambdas", PROLIP_LAMBDAS)]}
        if reg_lambda is None:
            if not shots:
                raise ConfigError("ProLIPTask: reg_lambda=None means 1/shots, but the number of shots is unknown "
                                  "(train on a FewShotDataset or set reg_lambda)")
            reg_lambda = 1.0 / shots
        self.reg_lambda = float(reg_lambda)
        self.searched_steps: int | None = None
        self.register_buffer("initial_proj", proj.detach().clone(), persistent=False)

    def training_logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.logits_from_embeddings(F.normalize(features @ self.backbone.model.visual.proj, dim=-1))

    def regularizer(self) -> torch.Tensor:
        return self.reg_lambda * (self.backbone.model.visual.proj - self.initial_proj).pow(2).sum()

    # -- ProLIP's few-shot validation protocol --------------------------------------------------------------------
    def validation_shots(self, datamodule: L.LightningDataModule) -> FewShotDataset:
        """K images per class of the search split, drawn with the run's seed, under the test transforms."""
        few_shot, split = datamodule.train_config["dataset"], self.search["split"]
        if few_shot.get("type") != "FewShotDataset" or not isinstance(few_shot.get("dataset"), dict):
            raise ConfigError("ProLIPTask.search: data.train must be a FewShotDataset over a dataset config")
        source = dict(few_shot["dataset"])
        test_split = getattr(datamodule.test_set, "split", None)
        if split in (source.get("split"), test_split, "test"):
            raise ConfigError(f"ProLIPTask.search: split '{split}' must be a validation split, neither the training "
                              f"split '{source.get('split')}' nor the test split '{test_split}'")
        return FewShotDataset({**source, "split": split}, shots=self.shots, seed=datamodule.train_config["seed"],
                              transform=getattr(datamodule.test_set, "transform_spec", None))

    def search_hyperparameters(self, train: Sequence[tuple[torch.Tensor, torch.Tensor]], val_features: torch.Tensor,
                               val_labels: torch.Tensor) -> dict[str, Any]:
        """Train every (lr, lambda) of the grid from W0, one step per view of ``train`` (what the final run does),
        and score it on the validation features; set the chosen pair and restore W0. Returns the grid's scores."""
        proj = self.backbone.model.visual.proj
        val_features, val_labels = val_features.to(proj.device), val_labels.to(proj.device)
        steps, grid = len(train), []
        for lr in self.search["lrs"]:
            for reg_lambda in self.search["lambdas"]:
                with torch.no_grad():
                    proj.copy_(self.initial_proj)
                self.reg_lambda = reg_lambda
                optimizer = build_optimizer(self, {**self.optimizer_cfg, "lr": lr})
                scheduler = build_scheduler(optimizer, self.scheduler_cfg, steps, steps)
                for view in range(steps):
                    features, labels = (t.to(proj.device) for t in train[view])
                    loss, _ = self.training_loss(features, labels)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    if scheduler:
                        scheduler["scheduler"].step()
                with torch.no_grad():
                    logits = self.training_logits(val_features)
                    grid.append({"lr": lr, "lambda": reg_lambda,
                                 "val_acc": float((logits.argmax(-1) == val_labels).float().mean()),
                                 "val_loss": float(self.criterion(logits, val_labels))})
        best = max(grid, key=lambda r: (r["val_acc"], -r["val_loss"]))  # max keeps the first of exact ties
        with torch.no_grad():
            proj.copy_(self.initial_proj)
        proj.grad = None
        self.reg_lambda, self.optimizer_cfg = best["lambda"], {**self.optimizer_cfg, "lr": best["lr"]}
        self.searched_steps = steps
        self._refresh_text()
        return {"chosen": best, "grid": grid}

    def training_data(self, datamodule: L.LightningDataModule, run_dir: Path) -> L.LightningDataModule:
        data = super().training_data(datamodule, run_dir)
        if self.search is None:
            return data
        val_set = self.validation_shots(datamodule)
        val_key = {"search": self.search["split"], "indices": val_set.indices, "data": datamodule.train_config}
        val_features, val_labels = FeatureViews(self.cache_features(val_set, 1, val_key, run_dir))[0]
        self.to("cuda" if torch.cuda.is_available() else "cpu")
        record = self.search_hyperparameters(data.train_set, val_features, val_labels)
        self.cpu()
        record["validation"] = {"split": self.search["split"], "shots": self.shots, "seed": val_set.draw_seed,
                                "indices": val_set.indices}
        (Path(run_dir) / SEARCH_FILE).write_text(json.dumps(record, indent=1))
        return data

    def configure_optimizers(self) -> Any:
        steps = int(self.trainer.estimated_stepping_batches)
        if self.searched_steps is not None and steps != self.searched_steps:
            raise ConfigError(f"ProLIPTask.search scored each pair after {self.searched_steps} steps (one per cached "
                              f"view) but the run trains {steps}: set trainer.max_epochs=1")
        return super().configure_optimizers()


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
