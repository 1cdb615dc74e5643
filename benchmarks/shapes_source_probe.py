"""Why does the source ViT underfit the `shape` task? Train several timm models side by side on exactly the data path of
the model-zoo pretraining (``ShapesDataset('shape', 'train')`` tensors in [0, 1], mean = std = 0.5 inside the model,
no augmentation) with the same optimiser and schedule, and print train / test accuracy after every epoch.

    python benchmarks/shapes_source_probe.py [--images 20000] [--epochs 3] [--models cnn vit_p4 vit_conv_stem]
                                             [--grid grid.png]

If a BatchNorm CNN learns the task on this path while the ViT does not, the renderer, labels, loader and
normalisation are not the cause; the model is. ``--grid`` also saves 8 training images per label (one row per
label, in class order) to check the labels by eye. One thread (``torch.set_num_threads(1)``), seed 0.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import timm
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visadapt.data.shapes import ShapesDataset  # noqa: E402

MODELS = {
    "cnn": ("resnet18", dict(stem_type="deep", stem_width=16, channels=(16, 32, 64, 128))),
    # the architecture of model_zoo/vit_tiny_shapes: linear 4x4 patchify
    "vit_p4": ("vit_tiny_patch16_224", dict(img_size=32, patch_size=4, embed_dim=64, depth=4, num_heads=2)),
    # the same transformer behind a convolutional stem (timm's hybrid ViT; 8x8 tokens)
    "vit_conv_stem": ("vit_tiny_r_s16_p8_224", dict(img_size=32, patch_size=1, embed_dim=64, depth=4, num_heads=2)),
}


def tensors(split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    data = ShapesDataset(task="shape", split=split, num_samples=n)
    return torch.stack([data[i][0] for i in range(n)]), torch.tensor([data.label(i) for i in range(n)])


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return sum((model((x[i:i + 500] - 0.5) / 0.5).argmax(1) == y[i:i + 500]).sum().item()
                   for i in range(0, len(x), 500)) / len(x)


def probe(name: str, train: tuple, test: tuple, epochs: int, lr: float, batch: int) -> None:
    torch.manual_seed(0)
    arch, kwargs = MODELS[name]
    model = timm.create_model(arch, num_classes=8, **kwargs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    steps = epochs * math.ceil(len(train[0]) / batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=0.1)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train[0]))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            loss = F.cross_entropy(model((train[0][idx] - 0.5) / 0.5), train[1][idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"| {name} | {arch} | {epoch + 1} | {accuracy(model, *train):.3f} | {accuracy(model, *test):.3f} | "
              f"{time.perf_counter() - start:.0f} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=20000, help="first N images of the train stream")
    parser.add_argument("--epochs", type=int, default=3, help="0: no training (e.g. only --grid)")
    parser.add_argument("--lr", type=float, default=2e-3, help="AdamW peak lr of a one-cycle schedule")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--grid", help="save a PNG of 8 training images per label here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train, test = tensors("train", args.images), tensors("test", 2000)
    if args.grid:
        from torchvision.utils import save_image

        rows = torch.cat([torch.nonzero(train[1] == c)[:8, 0] for c in range(8)])
        save_image(F.interpolate(train[0][rows], scale_factor=3), args.grid, nrow=8)
    if args.epochs < 1:
        return 0
    print("| model | timm architecture | epoch | train acc | test acc | seconds |\n|---|---|---:|---:|---:|---:|")
    for name in args.models:
        probe(name, train, test, args.epochs, args.lr, args.batch_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
