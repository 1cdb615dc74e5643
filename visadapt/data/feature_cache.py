"""Features of a dataset under a frozen encoder, computed once per augmentation view and kept on disk.

Methods that train only what comes after a frozen encoder (ProLIP's projection, a linear probe, cache-based
adapters) need the encoder once per image and view, not once per step. ``build_feature_cache`` writes one
safetensors file (``features`` [views, N, D], ``labels`` [N]) named by a hash of everything that produced it (the
encoder's weights, the dataset and its items, the transforms, the seed and the number of views), so a resumed run
or another run over the same support set reuses it. View ``v`` is the dataset's augmentation of epoch ``v``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import lightning as L
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import DataLoader, Dataset

FEATURES, LABELS = "features", "labels"


def module_fingerprint(module: nn.Module) -> str:
    """A hash of a module's parameter and buffer values (which encoder produced the features)."""
    digest = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def dataset_fingerprint(dataset: Any) -> dict[str, Any]:
    """What identifies a dataset's items: its class, length, labels and (for subsets) the chosen indices."""
    labels = [int(dataset.label(i)) for i in range(dataset.num_items)]
    indices = getattr(dataset, "indices", None)
    return {"type": type(dataset).__name__, "labels": hashlib.sha1(json.dumps(labels).encode()).hexdigest(),
            "indices": hashlib.sha1(json.dumps(list(indices)).encode()).hexdigest() if indices is not None else None,
            "transform": getattr(dataset, "transform_spec", None), "seed": getattr(dataset, "seed", None)}


@torch.no_grad()
def build_feature_cache(encode: Callable[[torch.Tensor], torch.Tensor], dataset: Any, views: int,
                        directory: str | Path, key: dict[str, Any], batch_size: int = 256,
                        device: torch.device | str = "cpu") -> Path:
    """Encode ``views`` augmented passes over ``dataset`` (unless a file for this ``key`` exists); returns its path.

    The file is written under a temporary name and renamed, so a killed run never leaves a truncated cache."""
    if views < 1:
        raise ValueError(f"feature cache: views must be >= 1, got {views}")
    key = {**key, "dataset": dataset_fingerprint(dataset), "views": views}
    name = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = Path(directory) / f"{name}.safetensors"
    if path.is_file():
        return path
    n = dataset.num_items
    chunks = []
    for view in range(views):
        loader = DataLoader(dataset, batch_size=batch_size, sampler=range(view * n, (view + 1) * n))
        chunks.append(torch.cat([encode(images.to(device)).float().cpu() for images, _ in loader]))
    labels = torch.tensor([int(dataset.label(i)) for i in range(n)])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({FEATURES: torch.stack(chunks), LABELS: labels}, str(tmp),
              metadata={"key": json.dumps(key, sort_keys=True, default=str)})
    tmp.replace(path)
    return path


class FeatureViews(Dataset):
    """Item ``v`` is the whole support set's features under view ``v`` with the labels: one full-batch step.
    Views are read from the file one at a time (a ViT-B/16 cache of 300 views can be gigabytes)."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        with safe_open(self.path, framework="pt") as f:
            self.labels = f.get_tensor(LABELS)
            self.num_views = f.get_slice(FEATURES).get_shape()[0]

    def __len__(self) -> int:
        return self.num_views

    def __getitem__(self, view: int) -> tuple[torch.Tensor, torch.Tensor]:
        with safe_open(self.path, framework="pt") as f:
            return f.get_slice(FEATURES)[view], self.labels


class FeatureCacheDataModule(L.LightningDataModule):
    """Trains on cached features (one step per view, in view order) and validates / tests on the images of the
    wrapped image data module (the trained part is evaluated inside the full model)."""

    def __init__(self, images: L.LightningDataModule, cache_path: str | Path):
        super().__init__()
        self.images, self.cache_path = images, Path(cache_path)
        self.train_set = FeatureViews(self.cache_path)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=None, shuffle=False)

    def val_dataloader(self) -> Any:
        return self.images.val_dataloader()

    def test_dataloader(self) -> Any:
        return self.images.test_dataloader()
