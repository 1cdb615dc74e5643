"""Training data for the diffusion tasks: latent distributions encoded once, DreamBooth's class images generated
once by the base model, and the data module that serves them (instance and class halves paired per item)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from visadapt.adapters import disable_adapters
from visadapt.data.base import EpochSampler, to_tensor
from visadapt.registry import ConfigError


@dataclass
class LatentSet(Dataset):
    """Per item: the mean and std of the VAE's (scaled) latent distribution and the caption."""

    mean: torch.Tensor
    std: torch.Tensor
    captions: list[str]

    def __len__(self) -> int:
        return len(self.captions)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        i %= len(self)  # EpochSampler indices run over epochs
        return self.mean[i], self.std[i], self.captions[i]


@torch.no_grad()
def encode_dataset(backbone, dataset: Any, batch_size: int = 64) -> LatentSet:
    """Encode every (image, caption) item once with the backbone's (frozen) VAE."""
    size = backbone.resolution
    items = [dataset[i] for i in range(len(dataset))]
    if not items:
        raise ConfigError(f"{type(dataset).__name__}: no training images")
    bad = [i for i, (image, _) in enumerate(items) if tuple(image.shape[-2:]) != (size, size)]
    if bad:
        raise ConfigError(f"{type(dataset).__name__}: image {bad[0]} is {tuple(items[bad[0]][0].shape[-2:])}, the "
                          f"model works at {size}x{size} (resize in the dataset or its transforms)")
    device = next(backbone.vae.parameters()).device
    means, stds = [], []
    for start in range(0, len(items), batch_size):
        images = torch.stack([image for image, _ in items[start:start + batch_size]]).to(device)
        mean, std = backbone.encode_images(images)
        means.append(mean.float().cpu())
        stds.append(std.float().cpu())
    return LatentSet(torch.cat(means), torch.cat(stds), [str(c) for _, c in items])


class PairedLatents(Dataset):
    """Item i: (instance item, class item), each cycling over its own set, for DreamBooth's two halves."""

    def __init__(self, instance: LatentSet, extra: LatentSet):
        self.instance, self.extra = instance, extra

    def __len__(self) -> int:
        return max(len(self.instance), len(self.extra))

    def __getitem__(self, i: int) -> tuple[tuple, tuple]:
        return self.instance[i], self.extra[i]


class LatentDataModule(L.LightningDataModule):
    """Trains on cached latents (seeded, epoch-aware order, as ``ImageDataModule``); validates and tests on the
    original data module's datasets."""

    def __init__(self, source: L.LightningDataModule, instance: LatentSet, extra: LatentSet | None = None):
        super().__init__()
        self.source = source
        self.train_set = instance if extra is None else PairedLatents(instance, extra)
        self.val_set, self.test_set = source.val_set, source.test_set

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.source.batch_size,
                          sampler=EpochSampler(len(self.train_set), shuffle=True, seed=self.source.seed),
                          generator=torch.Generator().manual_seed(self.source.seed))

    def val_dataloader(self) -> DataLoader | list:
        return self.source.val_dataloader()

    def test_dataloader(self) -> DataLoader:
        return self.source.test_dataloader()


class ImageCaptionList(Dataset):
    """(image tensor, caption) pairs held in memory (generated class images)."""

    def __init__(self, images: Sequence[torch.Tensor], captions: Sequence[str]):
        self.images, self.captions = list(images), list(captions)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        return self.images[i], self.captions[i]


def generate_class_images(backbone, prompt: str, count: int, folder: Path, steps: int, guidance_scale: float,
                          seed: int, batch_size: int = 16) -> ImageCaptionList:
    """DreamBooth's class images: ``count`` samples of ``prompt`` from the base model (adapters switched off),
    image k from seed ``seed + k``, saved as PNGs in ``folder`` and reused when already there (a resumed run)."""
    from visadapt.generation.sampling import generate

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"class_{k:04d}.png" for k in range(count)]
    todo = [k for k, p in enumerate(paths) if not p.is_file()]
    with disable_adapters(backbone.adapted_model):
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            images = generate(backbone, [prompt] * len(chunk), seeds=[seed + k for k in chunk], steps=steps,
                              guidance_scale=guidance_scale)
            for k, image in zip(chunk, images):
                tmp = paths[k].with_suffix(".tmp.png")
                Image.fromarray(image).save(tmp)
                tmp.replace(paths[k])
    images = [to_tensor(np.asarray(Image.open(p).convert("RGB"))) for p in paths]
    return ImageCaptionList(images, [prompt] * count)
