"""ProLIP (Fahes et al., arXiv:2410.05270; clip.md 2): only CLIP's last visual projection trains, on cached
features, regularised towards its pretrained value; and ProLIP's few-shot validation protocol as a stage of its own
(``prepare_fit``: the feature cache, then the grid search), run before the final fit.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import torch
import torch.nn.functional as F

from visadapt.backbones.clip import OpenCLIPBackbone
from visadapt.data.feature_cache import FeatureViews
from visadapt.data.fewshot import FewShotDataset
from visadapt.optim import build_model_optimizer, build_scheduler
from visadapt.registry import TASKS, ConfigError, check_kwargs
from visadapt.tasks.clip_classification import CachedFeatureTask

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
    data_inputs = CachedFeatureTask.data_inputs + ("shots",)

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
                optimizer = build_model_optimizer(self, {**self.optimizer_cfg, "lr": lr})
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

    def prepare_fit(self, datamodule: L.LightningDataModule, run_dir: Path) -> L.LightningDataModule:
        data = super().prepare_fit(datamodule, run_dir)
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
