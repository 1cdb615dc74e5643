"""Training step time of ProLIP (one full-batch step on cached pre-projection features) vs CLIP-LoRA (one batch of
32 images through both LoRA-adapted towers, text prompts re-encoded), measured side by side, interleaved.

    python benchmarks/bench_clip_few_shot.py [--model tiny|vit_b16|both] [--shots 16] [--classes 3] [--rounds 5]

``tiny`` is the model-zoo CLIP (32 px); ``vit_b16`` is open_clip's ViT-B-16-quickgelu architecture at 224 px with
random weights (step time does not depend on the weight values). Each task is built by the same configs as
``tools/train.py`` uses. Prints median (quartiles) seconds per step and the CLIP-LoRA / ProLIP ratio.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _measure import interleave, ratio_stats  # noqa: E402
from mmengine.config import Config  # noqa: E402

from visadapt.config import to_plain  # noqa: E402
from visadapt.runner.build import build_task  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"tiny": dict(pretrained="clip_tiny_shapes"), "vit_b16": dict(name="ViT-B-16-quickgelu")}


def build(config: str, model: str, classes: int, shots: int):
    cfg = Config.fromfile(str(ROOT / config))
    cfg.backbone = {**{k: v for k, v in to_plain(cfg.backbone).items() if k not in ("pretrained", "name")},
                    **MODELS[model]}
    task = build_task(cfg, dict(num_classes=classes, class_names=[f"class {i}" for i in range(classes)], shots=shots)).train()
    optimizer = torch.optim.AdamW([p for p in task.parameters() if p.requires_grad], lr=1e-6)
    return task, optimizer


def step_fn(task, optimizer, inputs, labels):
    def step():
        loss = task.criterion(task.training_logits(inputs), labels) + task.regularizer()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def measure(model: str, shots: int, classes: int, rounds: int) -> None:
    torch.manual_seed(0)
    lora, lora_opt = build("configs/clip_lora/clip_lora_clip_tiny_shapes.py", model, classes, shots)
    prolip, prolip_opt = build("configs/prolip/prolip_clip_tiny_shapes.py", model, classes, shots)
    size = lora.backbone.model_cfg["vision_cfg"]["image_size"]
    images, image_labels = torch.rand(32, 3, size, size), torch.randint(0, classes, (32,))
    width = prolip.backbone.model.visual.proj.shape[0]
    features, feature_labels = torch.randn(shots * classes, width), torch.arange(shots * classes) % classes
    fns = {"clip_lora": step_fn(lora, lora_opt, images, image_labels),
           "prolip": step_fn(prolip, prolip_opt, features, feature_labels)}
    for fn in fns.values():  # warm-up
        fn()
    times = interleave(fns, rounds, torch.device("cpu"))
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    ratio = ratio_stats(times["clip_lora"], times["prolip"])
    print(f"{model}: {classes} classes x {shots} shots, {torch.get_num_threads()} threads, {rounds} rounds")
    print(f"  CLIP-LoRA step (batch 32 images, {size} px): {med['clip_lora'] * 1e3:9.2f} ms")
    print(f"  ProLIP step ({shots * classes} cached features):  {med['prolip'] * 1e3:9.3f} ms")
    print(f"  CLIP-LoRA / ProLIP per step: {ratio[0]:.0f} (quartiles {ratio[1]:.0f}-{ratio[2]:.0f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["tiny", "vit_b16", "both"], default="both")
    parser.add_argument("--shots", type=int, default=16)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    for model in (["tiny", "vit_b16"] if args.model == "both" else [args.model]):
        measure(model, args.shots, args.classes, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
