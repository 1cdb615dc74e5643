"""Zero-shot top-1 accuracy of a CLIP on shapes-world tasks, from class names and prompt templates.

    python tools/zero_shot.py --pretrained clip_tiny_shapes [--tasks shape,color,size] [--split test]
                              [--templates "a photo of a {}." "a {}."] [--batch-size 500]

``--pretrained`` is what ``OpenCLIPBackbone`` takes (a model-zoo entry, a local-dir folder, or a weights file with
``--name``). Prints one row per task (classes, chance, top-1 %) and their mean.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from visadapt.backbones import OpenCLIPBackbone  # noqa: E402
from visadapt.data import SHAPES_TASKS, ShapesDataset  # noqa: E402
from visadapt.registry import ConfigError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pretrained", required=True, help="model-zoo entry, local-dir folder or weights file")
    parser.add_argument("--name", help="open_clip model name (with a weights file)")
    parser.add_argument("--tasks", default=",".join(SHAPES_TASKS), help="comma-separated shapes-world tasks")
    parser.add_argument("--split", default="test")
    parser.add_argument("--templates", nargs="+", default=["a photo of a {}."], help="prompt templates with {}")
    parser.add_argument("--batch-size", type=int, default=500)
    return parser.parse_args(argv)


@torch.no_grad()
def zero_shot_accuracy(clip: OpenCLIPBackbone, dataset: ShapesDataset, templates: list[str],
                       batch_size: int) -> float:
    clip.set_classifier(dataset.class_names, templates)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
    correct = sum(int((clip(images).argmax(1) == labels).sum()) for images, labels in loader)
    return correct / len(dataset)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        clip = OpenCLIPBackbone(args.name, pretrained=args.pretrained).eval()
        image_size = clip.model_cfg["vision_cfg"]["image_size"]
        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        datasets = {t: ShapesDataset(t, args.split, image_size=image_size) for t in tasks}
        rows = {t: zero_shot_accuracy(clip, d, args.templates, args.batch_size) for t, d in datasets.items()}
    except (ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"zero-shot top-1 (%), split {args.split}, templates {args.templates}")
    print(f"{'task':<12} {'classes':>7} {'chance':>7} {'top-1':>7}")
    for task, acc in rows.items():
        n = datasets[task].num_classes
        print(f"{task:<12} {n:>7} {100 / n:>7.1f} {100 * acc:>7.1f}")
    print(f"{'mean':<12} {'':>7} {'':>7} {100 * sum(rows.values()) / len(rows):>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
