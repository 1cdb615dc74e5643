"""SimDA vs the Tune-A-Video baseline: one-shot tuning on the offline clip, the same edits, several seeds; and what
each costs, side by side.

    python benchmarks/simda_video.py [--seeds 0,1,2] [--rounds 20] [--jobs 1] [--threads 1] [--skip-runs]
                                     [--out-dir DIR] [--work-dir DIR]

Quality: ``configs/simda/simda_sd_tiny_shapes_oneshot.py`` and ``configs/simda/tuneavideo_sd_tiny_shapes_oneshot.py``
(300 steps on the 8-frame clip "a red circle moving left to right on a dark background", model-zoo model
``sd_tiny_shapes``), each trained once per seed with only ``seed`` changed, then tested on the config's 3 edit
prompts (DDIM inversion 25 steps, sampling 25 steps at guidance 7.5): frame consistency (mean CLIP image cosine over
all frame pairs), textual faithfulness (mean CLIP cosine of the frames to the edit prompt), both with the model-zoo
CLIP, and pixel consistency (mean absolute difference of consecutive frames, lower is smoother). A ``base`` row is
the SimDA config with 0 steps (adapters at their zero init: the image model frame by frame with latent-shift
attention). Runs are reused when unchanged (``visadapt.runner.many.train_or_reuse``).

Cost, in one process (``benchmarks/_measure.py``): a training step (loss, backward, clipping, AdamW) of each method on
the same encoded clip, ``--rounds`` interleaved rounds after 2 warm-up rounds, median and quartiles of the per-round
ratio to SimDA; memory as the exact CPU account of ``cat_cost.py``/``bench_adapters.py``: bytes autograd saves for
backward in the loss, plus gradients and AdamW state (3 x trainable bytes); and the forward time of one ``attn1``
with latent-shift attention (``CrossFrameAttnProcessor``) over stock ``AttnProcessor2_0`` on SD-1.5's first-level
shape (8 frames, 64x64 tokens would be SD at 512 px; measured at 32x32 tokens x 320 channels to stay within CPU time),
and of the whole model-zoo UNet with SimDA's latent-shift attention over the same SimDA model with per-frame
self-attention.
Trainable parameters are counted on the tiny model and on the SD-1.5 UNet architecture built on the meta device.
Writes ``results.json`` and ``table.md`` to ``--out-dir`` (default ``benchmarks/results/simda_video``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _measure import interleave, median_ms, provenance, ratio_stats, saved_for_backward, write_results  # noqa: E402
from visadapt.cli import csv_list  # noqa: E402
from visadapt.runner import load_config  # noqa: E402
from visadapt.runner.many import map_jobs, train_or_reuse  # noqa: E402

CONFIGS = {"simda": "configs/simda/simda_sd_tiny_shapes_oneshot.py",
           "tune_a_video": "configs/simda/tuneavideo_sd_tiny_shapes_oneshot.py"}
METRICS = {"frame_consistency": "test/frame_consistency", "textual_faithfulness": "test/textual_faithfulness",
           "pixel_consistency": "test/pixel_consistency"}


def tune(item: tuple[str, int], work: Path, threads: int) -> dict[str, Any]:
    method, seed = item
    options = {"seed": seed, "trainer.enable_progress_bar": False, "trainer.enable_model_summary": False}
    if method == "base":
        options["trainer.max_epochs"] = 0
    cfg = load_config(ROOT / CONFIGS.get(method, CONFIGS["simda"]), options)
    return train_or_reuse(cfg, work / method, threads=threads)


def quality(seeds: list[int], jobs: int, threads: int, work: Path) -> list[dict[str, Any]]:
    items = [("base", seeds[0])] + [(m, s) for s in seeds for m in CONFIGS]
    results = map_jobs(tune, items, jobs, work=work, threads=threads,
                       report=lambda item, r: print(f"{item}: {r['metrics']} fit {r['fit_seconds']} s", flush=True))
    return [dict(method=m, seed=s, fit_seconds=r["fit_seconds"], trainable=r["parameters"]["trainable"],
                 **{k: r["metrics"][v] for k, v in METRICS.items()}) for (m, s), r in zip(items, results)]


def build_task(method: str):
    from visadapt.runner.build import build_task as from_cfg

    torch.manual_seed(0)
    return from_cfg(load_config(ROOT / CONFIGS[method]), {})


def costs(rounds: int) -> dict[str, Any]:
    from visadapt.adapters import count_parameters
    from visadapt.backbones import DiffusionBackbone
    from visadapt.data import ShapesClipDataset
    from visadapt.generation.video import encode_clips

    tasks = {m: build_task(m) for m in CONFIGS}
    base_unet = sum(p.numel() for p in DiffusionBackbone(pretrained="sd_tiny_shapes").unet.parameters())
    clip = encode_clips(tasks["simda"].backbone, ShapesClipDataset(num_frames=8, image_size=32))
    batch = (clip.mean, clip.std, clip.captions)
    steps = {}
    memory = {}
    for method, task in tasks.items():
        params = [p for p in task.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-3)

        def step(task=task, params=params, optimizer=optimizer) -> None:
            task.training_step(batch, 0).backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        steps[method] = step
        with saved_for_backward() as saved:
            loss = task.training_step(batch, 0)
        loss.backward()
        optimizer.zero_grad(set_to_none=True)
        trainable = sum(p.numel() * p.element_size() for p in params)
        memory[method] = dict(saved_bytes=sum(saved.values()), state_bytes=3 * trainable,
                              trainable=count_parameters(task.adapted_model)["trainable"],
                              unet=base_unet)
    interleave(steps, 2, torch.device("cpu"))
    times = interleave(steps, rounds, torch.device("cpu"))
    return dict(step_ms={m: median_ms(t) for m, t in times.items()},
                step_ratio_to_simda={m: ratio_stats(t, times["simda"]) for m, t in times.items()},
                memory=memory)


def attention_ratio(rounds: int) -> dict[str, Any]:
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0

    from visadapt.adapters import CallContext
    from visadapt.adapters.video import CrossFrameAttnProcessor

    torch.manual_seed(0)
    frames, side, dim = 8, 32, 320
    attn = Attention(query_dim=dim, heads=8, dim_head=dim // 8).eval()
    x = torch.randn(frames, side * side, dim)
    context = CallContext(num_frames=frames)
    processors = {"stock self-attention": AttnProcessor2_0(),
                  "latent-shift attention": CrossFrameAttnProcessor(context, "previous_and_current", shift=True),
                  "sparse-causal attention": CrossFrameAttnProcessor(context, "first_and_previous", shift=False)}

    def call(processor) -> Any:
        def run() -> None:
            with torch.no_grad():
                processor(attn, x)
        return run

    fns = {name: call(p) for name, p in processors.items()}
    interleave(fns, 2, torch.device("cpu"))
    times = interleave(fns, rounds, torch.device("cpu"))
    stock = times["stock self-attention"]
    return dict(shape=dict(frames=frames, tokens=side * side, dim=dim, heads=8),
                ms={n: median_ms(t) for n, t in times.items()},
                ratio_to_stock={n: ratio_stats(t, stock) for n, t in times.items()})


def unet_ratio(rounds: int) -> dict[str, Any]:
    """A whole UNet forward of the model-zoo model on the 8-frame clip: SimDA with latent-shift attention over SimDA
    with per-frame self-attention (``latent_shift=False``; the same adapters), so only the attention differs."""
    from visadapt.adapters import call_context, inject
    from visadapt.backbones import DiffusionBackbone

    torch.manual_seed(0)
    latents, t, cond = torch.randn(8, 4, 16, 16), torch.full((8,), 500), None
    fns = {}
    for name, shift in (("per-frame self-attention", False), ("latent-shift attention", True)):
        backbone = DiffusionBackbone(pretrained="sd_tiny_shapes")
        inject(backbone.adapted_model, dict(type="simda", latent_shift=shift))
        cond = backbone.encode_prompt(["a red circle"] * 8).detach() if cond is None else cond

        def forward(backbone=backbone) -> None:
            with torch.no_grad(), call_context(backbone.adapted_model, num_frames=8):
                backbone.unet(latents, t, cond)
        fns[name] = forward
    interleave(fns, 2, torch.device("cpu"))
    times = interleave(fns, rounds, torch.device("cpu"))
    base = times["per-frame self-attention"]
    return dict(ms={n: median_ms(v) for n, v in times.items()},
                ratio={n: ratio_stats(v, base) for n, v in times.items()})


def sd15_counts() -> dict[str, int]:
    import diffusers

    from visadapt.adapters import count_parameters, inject

    counts = {}
    for method in CONFIGS:
        with torch.device("meta"):
            parts = torch.nn.Module()
            parts.unet = diffusers.UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
            unet_total = sum(p.numel() for p in parts.unet.parameters())
            inject(parts, dict(type=method))
        counts[method] = dict(trainable=count_parameters(parts)["trainable"], unet=unet_total)
    return counts


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def markdown(rows: list[dict[str, Any]], cost: dict[str, Any], attention: dict[str, Any],
             sd15: dict[str, Any], seeds: list[int]) -> str:
    names = {"base": "no tuning (SimDA at init)", "simda": "SimDA", "tune_a_video": "Tune-A-Video baseline"}
    out = ["| method | frame consistency | textual faithfulness | pixel consistency (lower = smoother) | "
           "fit seconds |", "|---|---:|---:|---:|---:|"]
    for method in names:
        mine = [r for r in rows if r["method"] == method]
        if mine:
            cells = [mean_std([r[k] for r in mine]) for k in METRICS]
            out.append(f"| {names[method]} | " + " | ".join(cells)
                       + f" | {statistics.mean(r['fit_seconds'] for r in mine):.0f} |")
    out += ["", f"Mean ± sample std over seeds {', '.join(map(str, seeds))} (no tuning: seed {seeds[0]}). Per seed:",
            "", "| method | seed | frame consistency | textual faithfulness | pixel consistency |",
            "|---|---:|---:|---:|---:|"]
    out += [f"| {r['method']} | {r['seed']} | " + " | ".join(f"{r[k]:.4f}" for k in METRICS) + " |" for r in rows]
    out += ["", "Cost (one process, interleaved rounds; ratio = median [q1, q3] of per-round ratios to SimDA):", "",
            "| method | trainable (tiny) | share of tiny UNet | trainable (SD-1.5 UNet) | share of SD-1.5 UNet | "
            "step ms | step time / SimDA | saved for backward MiB | + grads & AdamW MiB | memory / SimDA |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    simda_mem = cost["memory"]["simda"]["saved_bytes"] + cost["memory"]["simda"]["state_bytes"]
    for method in CONFIGS:
        m, r = cost["memory"][method], cost["step_ratio_to_simda"][method]
        total = m["saved_bytes"] + m["state_bytes"]
        out.append(f"| {names[method]} | {m['trainable']:,} | {m['trainable'] / m['unet']:.1%} | "
                   f"{sd15[method]['trainable']:,} | {sd15[method]['trainable'] / sd15[method]['unet']:.1%} | "
                   f"{cost['step_ms'][method]:.0f} | {r[0]:.2f} [{r[1]:.2f}, {r[2]:.2f}] | "
                   f"{m['saved_bytes'] / 2**20:.1f} | {m['state_bytes'] / 2**20:.2f} | {total / simda_mem:.2f} |")
    shape = attention["shape"]
    out += ["", f"attn1 forward, {shape['frames']} frames x {shape['tokens']} tokens x {shape['dim']} channels, "
            f"{shape['heads']} heads (ratio to stock self-attention, median [q1, q3]):", "",
            "| processor | ms | / stock |", "|---|---:|---:|"]
    for name, ms in attention["ms"].items():
        r = attention["ratio_to_stock"][name]
        out.append(f"| {name} | {ms:.1f} | {r[0]:.2f} [{r[1]:.2f}, {r[2]:.2f}] |")
    unet = attention["unet"]
    out += ["", "Whole UNet forward (model-zoo model, 8 frames at 16x16 latents, SimDA adapters in both):", "",
            "| attn1 | ms | / per-frame |", "|---|---:|---:|"]
    for name, ms in unet["ms"].items():
        r = unet["ratio"][name]
        out.append(f"| {name} | {ms:.1f} | {r[0]:.2f} [{r[1]:.2f}, {r[2]:.2f}] |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results" / "simda_video")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "work_dirs" / "simda_video")
    args = parser.parse_args(argv)
    seeds = csv_list(args.seeds, int)
    torch.set_num_threads(args.threads)
    start = time.time()
    rows = quality(seeds, args.jobs, args.threads, args.work_dir)
    cost, attention, sd15 = costs(args.rounds), attention_ratio(args.rounds), sd15_counts()
    attention["unet"] = unet_ratio(args.rounds)
    meta = dict(**provenance("simda_video.py", argv, start), seeds=seeds, threads=args.threads)
    write_results(args.out_dir, dict(meta=meta, rows=rows, cost=cost, attention=attention, sd15=sd15),
                  markdown(rows, cost, attention, sd15, seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
