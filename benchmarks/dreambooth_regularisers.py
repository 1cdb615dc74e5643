"""DreamBooth-LoRA on the offline subject with each regulariser: none (plain LoRA), CAT, prior preservation.

    python benchmarks/dreambooth_regularisers.py [--seeds 0,1,2] [--methods base,lora,lora_cat,lora_prior] [--jobs N]
                                                 [--threads 1] [--out-dir DIR] [--work-dir DIR]

Each method is its config under ``configs/dreambooth/`` (300 steps on the model-zoo model ``sd_tiny_shapes``,
LoRA r=4 on every UNet attention projection) trained once per seed with ``seed=<s>`` and nothing else changed, and
tested once on the config's test prompts (4 prompts x 4 seeds from 1000, judged by the model-zoo CLIP):

- identity: (cos + 1) / 2 between CLIP image embeddings of the subject generations and the instance images;
- prompt similarity: CLIP text-image cosine of the subject generations with their trigger-free prompts;
- KPS: harmonic mean over seed-matched pairs of (cos + 1) / 2 between the adapted and the base model's generations
  of the trigger-free prompts (1.0 = the adapted model draws exactly what the base model draws without the trigger);
- fit seconds: ``results.json``'s ``fit_seconds``, wall time of ``prepare_fit`` (latent encoding, and for prior
  preservation the 50 class images) and ``trainer.fit`` (300 steps and one validation). Absolute, run after run in
  one process with ``torch.set_num_threads(--threads)``: it moves with machine load, so its column is for scale;
  ``benchmarks/cat_cost.py`` measures the per-step cost side by side.

A ``base`` row is the plain LoRA config with ``trainer.max_steps=0`` (B = 0: the model before personalization),
tested the same way, once. Seeds run in the outer loop and methods in the inner one, so load that drifts over the
run affects every method. Writes ``results.json`` (per-seed rows and the summary) and ``table.md`` to
``--out-dir`` (default ``benchmarks/results/dreambooth_regularisers``); the runs go under ``--work-dir`` (default
``work_dirs/dreambooth_regularisers``), and a rerun with the same one reuses every finished run whose config and
weight files are unchanged.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _measure import provenance, write_results  # noqa: E402
from visadapt.cli import csv_list, pick  # noqa: E402
from visadapt.runner import load_config  # noqa: E402
from visadapt.runner.many import map_jobs, train_or_reuse  # noqa: E402

METHODS = {
    # The model before personalization (the same config, 0 steps): what the metrics give with no training; its test
    # generations come from fixed seeds, so it runs for the first seed only.
    "base": ("configs/dreambooth/lora_sd_tiny_shapes_subject.py", "base model (no training)"),
    "lora": ("configs/dreambooth/lora_sd_tiny_shapes_subject.py", "LoRA (no regulariser)"),
    "lora_cat": ("configs/dreambooth/lora_cat_sd_tiny_shapes_subject.py", "LoRA + CAT (lambda 1.0)"),
    "lora_prior": ("configs/dreambooth/lora_prior_sd_tiny_shapes_subject.py", "LoRA + prior preservation (50 images)"),
}
METRICS = {"identity": "test/identity", "prompt_similarity": "test/prompt_similarity", "kps": "test/kps"}


def run(item: tuple[str, int], work: Path, threads: int) -> dict[str, Any]:
    method, seed = item
    options = {"seed": seed, "trainer.enable_progress_bar": False, "trainer.enable_model_summary": False}
    if method == "base":
        options["trainer.max_steps"] = 0
    cfg = load_config(ROOT / METHODS[method][0], options)
    return train_or_reuse(cfg, work / method, threads=threads)


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    summary = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        entry: dict[str, Any] = {"seeds": [r["seed"] for r in mine], "trainable": mine[0]["trainable"]}
        for key in (*METRICS, "fit_seconds"):
            values = [r[key] for r in mine]
            entry[key] = {"mean": statistics.mean(values),
                          "std": statistics.stdev(values) if len(values) > 1 else 0.0}
        summary[method] = entry
    return summary


def markdown(rows: list[dict[str, Any]], summary: dict[str, dict[str, Any]], seeds: list[int]) -> str:
    lines = ["| method | trainable params | identity | prompt similarity | KPS | fit seconds |",
             "|---|---:|---:|---:|---:|---:|"]
    for method, s in summary.items():
        one = len(s["seeds"]) == 1
        cells = [f"{s[k]['mean']:.4f}" + ("" if one else f" ± {s[k]['std']:.4f}") for k in METRICS]
        fit = f"{s['fit_seconds']['mean']:.0f}" + ("" if one else f" ± {s['fit_seconds']['std']:.0f}")
        trainable = "0 (0 steps)" if method == "base" else f"{s['trainable']:,}"
        lines.append(f"| {METHODS[method][1]} | {trainable} | " + " | ".join(cells) + f" | {fit} |")
    lines += ["", f"Mean ± sample std over seeds {', '.join(map(str, seeds))} (the base model: seed {seeds[0]} only, "
              "its test images come from fixed seeds). Per seed:", "",
              "| method | seed | identity | prompt similarity | KPS | fit seconds |", "|---|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (list(METHODS).index(r["method"]), r["seed"])):
        lines.append(f"| {r['method']} | {r['seed']} | " + " | ".join(f"{r[k]:.4f}" for k in METRICS)
                     + f" | {r['fit_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default=None, help=f"comma-separated subset of: {', '.join(METHODS)}")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own process")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results" / "dreambooth_regularisers")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "work_dirs" / "dreambooth_regularisers")
    args = parser.parse_args(argv)
    methods = pick(csv_list(args.methods), list(METHODS), "method")
    seeds = csv_list(args.seeds, int)
    items = [(m, s) for s in seeds for m in methods if m != "base" or s == seeds[0]]
    start = time.time()

    def report(item: tuple[str, int], r: dict[str, Any]) -> None:
        metrics = ", ".join(f"{k} {r['metrics'][v]:.4f}" for k, v in METRICS.items())
        print(f"{item[0]} seed {item[1]}: {metrics}, fit {r['fit_seconds']:.1f} s"
              f"{' (reused)' if r['reused'] else ''}", flush=True)

    results = map_jobs(run, items, args.jobs, report=report, work=args.work_dir, threads=args.threads)
    rows = []
    for (method, seed), r in zip(items, results):
        rows.append(dict(method=method, seed=seed, config=METHODS[method][0], run_dir=r["run_dir"],
                         trainable=r["parameters"]["trainable"], fit_seconds=r["fit_seconds"], reused=r["reused"],
                         **{k: r["metrics"][v] for k, v in METRICS.items()}))
    summary = summarize(rows)
    meta = dict(**provenance("dreambooth_regularisers.py", argv, start), seeds=seeds, jobs=args.jobs,
                threads=args.threads, reused_runs=sum(r["reused"] for r in rows))
    write_results(args.out_dir, dict(meta=meta, summary=summary, rows=rows), markdown(rows, summary, seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
