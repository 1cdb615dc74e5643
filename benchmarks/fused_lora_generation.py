"""Generation time of a text-to-image model with a LoRA fused into its weights vs the base model (and unfused).

    python benchmarks/fused_lora_generation.py [--model sd_tiny_shapes] [--lora DIR] [--rounds 20] [--steps 25]
                                               [--guidance 5] [--num 4] [--threads 1] [--out-dir DIR]

Five pipelines, all stock diffusers ``StableDiffusionPipeline`` with the DDIM scheduler, each over its own copy of
the model (``DiffusionBackbone(pretrained=--model)``):

- ``base``: the model without adapters;
- ``visadapt LoRA``: visadapt's LoRA layers injected (unmerged);
- ``visadapt LoRA merged``: a copy of the former after ``visadapt.adapters.merge`` (LoRA folded into the weights,
  wrappers removed: the upstream module tree);
- ``diffusers LoRA``: the LoRA's ``pytorch_lora_weights.safetensors`` export (``visadapt.generation.lora_export``)
  loaded with diffusers' ``load_lora_weights`` (PEFT layers, unfused);
- ``diffusers LoRA fused``: the same after ``fuse_lora()`` and ``unload_lora_weights()`` (diffusers' documented way
  to keep the fused weights without the LoRA layers).

The LoRA is the adapter of ``configs/dreambooth/lora_sd_tiny_shapes_subject.py`` (r=4 on every UNet attention
projection) with ``lora_B`` drawn from N(0, 0.02^2) (seed 0; at init B = 0 and merging would change nothing), or
the trained export given by ``--lora`` (a run directory or its ``adapter/``). One call generates ``--num`` images
("zwx, a star on a dark background", seeds 0..num-1) with ``--steps`` DDIM steps and classifier-free guidance
``--guidance``, the same for every pipeline. The pipelines run side by side in one process (``_measure.py``):
2 warm-up rounds, then ``--rounds`` rounds of one call each, the starting pipeline rotated every round; the table
gives the median and interquartile range of the per-round ratios to ``base``. The caption gives the largest pixel
difference (0-255, of the uint8 images) of each pipeline's images from the unmerged visadapt LoRA's; the base
model's row shows how much the LoRA changes the images.

Writes ``results.json`` and ``table.md`` to ``--out-dir`` (default ``benchmarks/results/fused_lora_generation``).
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _measure import interleave, median_ms, provenance, ratio_stats, write_results  # noqa: E402
from visadapt.adapters import inject, load_adapter, merge  # noqa: E402
from visadapt.backbones import DiffusionBackbone  # noqa: E402
from visadapt.config import to_plain  # noqa: E402
from visadapt.generation.lora_export import DIFFUSERS_FILE, save_diffusers_lora  # noqa: E402
from visadapt.generation.sampling import generate  # noqa: E402
from visadapt.generation.subjects import adapter_dir  # noqa: E402
from visadapt.runner import load_config  # noqa: E402

SEED = 0
WARMUP_ROUNDS = 2
LORA_CONFIG = "configs/dreambooth/lora_sd_tiny_shapes_subject.py"
PROMPT = "zwx, a star on a dark background"
NAMES = ("base", "visadapt LoRA", "visadapt LoRA merged", "diffusers LoRA", "diffusers LoRA fused")


def lora_backbone(model: str, lora: Path | None) -> DiffusionBackbone:
    """The model with the LoRA config's adapter injected: loaded from ``lora``, else with seeded random B."""
    backbone = DiffusionBackbone(pretrained=model)
    if lora is not None:
        load_adapter(backbone.adapted_model, lora)
        return backbone
    inject(backbone.adapted_model, to_plain(load_config(ROOT / LORA_CONFIG).adapter))
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in backbone.adapted_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    return backbone


def pipelines(model: str, lora: Path | None, export: Path) -> dict[str, tuple[DiffusionBackbone, Any]]:
    """The five (backbone, pipeline) pairs of the module docstring, in eval mode."""
    adapted = lora_backbone(model, lora)
    merged = copy.deepcopy(adapted)
    merge(merged.adapted_model)
    save_diffusers_lora(adapted, export)
    if not (export / DIFFUSERS_FILE).is_file():
        raise ValueError(f"{lora}: not a plain LoRA, so there is no {DIFFUSERS_FILE} to load "
                         f"({(export / 'lora_formats.txt').read_text().strip()})")
    base, unfused, fused = (DiffusionBackbone(pretrained=model) for _ in range(3))
    pipes = {"base": (base, base.pipeline("ddim")), "visadapt LoRA": (adapted, adapted.pipeline("ddim")),
             "visadapt LoRA merged": (merged, merged.pipeline("ddim")),
             "diffusers LoRA": (unfused, unfused.pipeline("ddim")),
             "diffusers LoRA fused": (fused, fused.pipeline("ddim"))}
    pipes["diffusers LoRA"][1].load_lora_weights(export, weight_name=DIFFUSERS_FILE)
    fused_pipe = pipes["diffusers LoRA fused"][1]
    fused_pipe.load_lora_weights(export, weight_name=DIFFUSERS_FILE)
    fused_pipe.fuse_lora()
    fused_pipe.unload_lora_weights()
    for backbone, _ in pipes.values():
        backbone.eval()
    return pipes


def call(backbone: DiffusionBackbone, pipe: Any, args: argparse.Namespace) -> Callable[[], list[np.ndarray]]:
    """A closure per pipeline (a lambda written inside a loop would see only the last one)."""
    prompts, seeds = [PROMPT] * args.num, list(range(args.num))
    return lambda: generate(backbone, prompts, seeds, steps=args.steps, guidance_scale=args.guidance, pipe=pipe)


def markdown(result: dict[str, Any]) -> str:
    times = result["call_seconds"]
    lines = ["| pipeline | median call (ms) | time / base | max pixel difference from visadapt LoRA |",
             "|---|---:|---:|---:|"]
    for name in NAMES:
        median, q1, q3 = ratio_stats(times[name], times["base"])
        gap = result["max_pixel_difference"].get(name)
        lines.append(f"| {name} | {median_ms(times[name]):.1f} | {median:.2f} ({q1:.2f}–{q3:.2f}) | "
                     f"{'-' if gap is None else gap} |")
    r = result
    lines += ["", f"`{r['model']}`, {r['num']} images per call ({r['size']}x{r['size']}), {r['steps']} DDIM steps, "
              f"guidance {r['guidance']}, seeds 0-{r['num'] - 1}, {r['device']}, {r['threads']} torch thread(s); "
              f"median (interquartile range) of {r['rounds']} per-round ratios, pipelines interleaved after "
              f"{WARMUP_ROUNDS} warm-up rounds. LoRA: {r['lora']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sd_tiny_shapes", help="diffusers folder or model-zoo name")
    parser.add_argument("--lora", type=Path, help="a trained LoRA export or run directory (default: random B)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--num", type=int, default=4, help="images per call")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results" / "fused_lora_generation")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    lora = adapter_dir(args.lora) if args.lora is not None else None
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        pipes = pipelines(args.model, lora, Path(tmp))
    calls = {name: call(backbone, pipe, args) for name, (backbone, pipe) in pipes.items()}
    images = {name: fn() for name, fn in calls.items()}
    reference = np.stack(images["visadapt LoRA"]).astype(int)
    gaps = {name: int(np.abs(np.stack(images[name]).astype(int) - reference).max())
            for name in NAMES if name != "visadapt LoRA"}
    interleave(calls, WARMUP_ROUNDS, torch.device("cpu"))
    times = interleave(calls, args.rounds, torch.device("cpu"))
    result = dict(**provenance("fused_lora_generation.py", argv, start), model=args.model,
                  lora=str(lora) if lora else f"{LORA_CONFIG}'s adapter, B ~ N(0, 0.02^2) seed {SEED}",
                  num=args.num, size=pipes["base"][0].resolution, steps=args.steps, guidance=args.guidance,
                  device="cpu",
                  threads=args.threads, rounds=args.rounds, call_seconds=times, max_pixel_difference=gaps,
                  ratios={name: dict(zip(("median", "q1", "q3"), ratio_stats(times[name], times["base"])))
                          for name in NAMES})
    write_results(args.out_dir, result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
