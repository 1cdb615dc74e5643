"""Does the model-zoo text-to-image model draw what the prompt says? For prompts "a {color} {shape} on {background}"
it generates images, and the model-zoo CLIP names each factor zero-shot: among the prompts that differ from the
true one in that factor only, which scores highest. The same judge on real renders of the same factors (the shapes
world's own images) is the ceiling: a factor the CLIP cannot tell on real images says nothing about the generator.

    python benchmarks/sd_prompt_accuracy.py [--model sd_tiny_shapes] [--per-factor 2] [--steps 25] [--guidance 5]

Prints a table (accuracy % per factor, generated vs real, chance) and writes it with a sample grid to --out.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visadapt.backbones import DiffusionBackbone  # noqa: E402
from visadapt.data.shapes import BACKGROUNDS, COLORS, SHAPES, Scene, render_scene  # noqa: E402
from visadapt.data.shapes.caption import background_phrase  # noqa: E402
from visadapt.data.shapes.tasks import sample_background, sample_object  # noqa: E402
from visadapt.generation.metrics import ClipJudge  # noqa: E402
from visadapt.generation.sampling import generate, grid  # noqa: E402

FACTORS = {"color": list(COLORS), "shape": list(SHAPES), "background": list(BACKGROUNDS)}


def prompt(color: str, shape: str, background: str) -> str:
    article = "an" if color[0] in "aeiou" else "a"
    return f"{article} {color} {shape} on {background_phrase(background)}"


def real_image(color: str, shape: str, background: str, seed: int, size: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 7])
    radius = float(rng.uniform(0.26, 0.40))
    x, y = rng.uniform(radius, 1 - radius, 2)
    obj = sample_object(rng, radius, x, y, shape=shape, color=color, texture="solid")
    return render_scene(Scene(sample_background(rng, background), (obj,)), size)[0]


def accuracy(judge: ClipJudge, images: list[np.ndarray], truths: list[dict[str, str]]) -> dict[str, float]:
    embeddings = judge.images(images)
    out = {}
    for factor, values in FACTORS.items():
        hits = 0
        for emb, truth in zip(embeddings, truths):
            texts = [prompt(**{**truth, factor: v}) for v in values]
            hits += int(values[int((judge.texts(texts) @ emb).argmax())] == truth[factor])
        out[factor] = 100.0 * hits / len(images)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sd_tiny_shapes")
    parser.add_argument("--clip", default="clip_tiny_shapes")
    parser.add_argument("--per-factor", type=int, default=2, help="images per (color, shape, background) cell")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("work_dirs/sd_prompt_accuracy"))
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    backbone = DiffusionBackbone(pretrained=args.model)
    judge = ClipJudge(args.clip)
    cells = list(itertools.product(FACTORS["color"], FACTORS["shape"], FACTORS["background"]))
    truths, prompts, seeds = [], [], []
    for k, (color, shape, background) in enumerate(cells):
        for j in range(args.per_factor):
            truths.append(dict(color=color, shape=shape, background=background))
            prompts.append(prompt(color, shape, background))
            seeds.append(args.seed + k * args.per_factor + j)
    generated = []
    for start in range(0, len(prompts), 32):
        generated += generate(backbone, prompts[start:start + 32], seeds[start:start + 32], steps=args.steps,
                              guidance_scale=args.guidance)
    real = [real_image(**t, seed=s, size=backbone.resolution) for t, s in zip(truths, seeds)]
    rows = {"generated": accuracy(judge, generated, truths), "real renders (ceiling)": accuracy(judge, real, truths),
            "chance": {f: 100.0 / len(v) for f, v in FACTORS.items()}}
    lines = ["| images | " + " | ".join(FACTORS) + " |", "|---|" + "---:|" * len(FACTORS)]
    lines += [f"| {name} | " + " | ".join(f"{row[f]:.1f}" for f in FACTORS) + " |" for name, row in rows.items()]
    table = "\n".join(lines)
    print(f"{len(prompts)} prompts ({len(cells)} cells x {args.per_factor}), {args.steps} DDIM steps, guidance "
          f"{args.guidance}, judge {args.clip}; zero-shot accuracy (%) of each factor:\n{table}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(table + "\n")
    (args.out / "results.json").write_text(json.dumps(dict(vars(args), out=str(args.out), rows=rows), indent=2))
    from PIL import Image

    picks = list(range(0, len(generated), max(1, len(generated) // 32)))[:32]
    Image.fromarray(grid([generated[i] for i in picks], columns=8)).resize((8 * 96, 4 * 96), Image.NEAREST).save(
        args.out / "samples.png")
    (args.out / "samples.txt").write_text("\n".join(prompts[i] for i in picks) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
