"""Zero-shot top-1 accuracy of a CLIP on shapes-world tasks, from class names and prompt templates.

    python tools/zero_shot.py --pretrained clip_tiny_shapes [--tasks shape,color,size] [--split test]
                              [--templates "a photo of a {}." "a {}."] [--batch-size 500]

``--pretrained`` is what ``OpenCLIPBackbone`` takes (a model-zoo entry, a local-dir folder, or a weights file with
``--name``). Prints a line per task as it finishes (a progress bar on a terminal), then one row per task
(classes, chance, top-1 %) and their mean.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visadapt.cli import USER_ERRORS, ArgumentParser, fail  # noqa: E402
from visadapt.registry import ConfigError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pretrained", required=True, help="model-zoo entry, local-dir folder or weights file")
    parser.add_argument("--name", help="open_clip model name (with a weights file)")
    parser.add_argument("--tasks", help="comma-separated shapes-world tasks (default: all)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--templates", nargs="+", default=["a photo of a {}."], help="prompt templates with {}")
    parser.add_argument("--batch-size", type=int, default=500)
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """What can be checked before importing torch and open_clip."""
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    no_slot = [t for t in args.templates if "{}" not in t]
    if no_slot:
        raise ConfigError(f"--templates: each template needs a '{{}}' for the class name, got {no_slot}")


def zero_shot_accuracy(clip, dataset, templates: list[str], batch_size: int, desc: str = "") -> float:
    import torch
    from tqdm import tqdm

    clip.set_classifier(dataset.class_names, templates)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
    with torch.no_grad():  # the bar shows on a terminal only; main() prints a plain line per task
        correct = sum(int((clip(images).argmax(1) == labels).sum())
                      for images, labels in tqdm(loader, desc=desc, unit="batch", leave=False, disable=None))
    return correct / len(dataset)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_args(args)
        from visadapt.backbones import OpenCLIPBackbone
        from visadapt.data import SHAPES_TASKS, ShapesDataset

        tasks = [t.strip() for t in (args.tasks or ",".join(SHAPES_TASKS)).split(",") if t.strip()]
        clip = OpenCLIPBackbone(args.name, pretrained=args.pretrained).eval()
        image_size = clip.model_cfg["vision_cfg"]["image_size"]
        datasets = {t: ShapesDataset(t, args.split, image_size=image_size) for t in tasks}
        rows = {}
        for i, (task, dataset) in enumerate(datasets.items(), start=1):
            start = time.perf_counter()
            rows[task] = zero_shot_accuracy(clip, dataset, args.templates, args.batch_size, desc=task)
            print(f"[{i}/{len(datasets)}] {task}: top-1 {100 * rows[task]:.1f} % "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
    except USER_ERRORS as err:
        return fail(err)
    print(f"zero-shot top-1 (%), split {args.split}, templates {args.templates}")
    print(f"{'task':<12} {'classes':>7} {'chance':>7} {'top-1':>7}")
    for task, acc in rows.items():
        n = datasets[task].num_classes
        print(f"{task:<12} {n:>7} {100 / n:>7.1f} {100 * acc:>7.1f}")
    print(f"{'mean':<12} {'':>7} {'':>7} {100 * sum(rows.values()) / len(rows):>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
