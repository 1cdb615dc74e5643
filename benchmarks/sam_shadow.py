"""The offline SAM-adaptation result: the model-zoo SAM (pretrained to segment objects) adapted to shadow detection.

    python benchmarks/sam_shadow.py [--jobs N] [--out-dir DIR] [--work-dir DIR] [--methods a,b] [--seeds 0,1,2]

Protocol: for each trainable method and each lr of its grid, train on train800 and validate on val200 (seed 0,
no test split in these runs); the lr with the best final val200 Dice is kept. Then each seed trains once with that
lr (train800, val200 logged) and its last iterate is tested once on the 2,000-image test split. The frozen source
model is tested as it is. Writes ``selection.csv``, ``results.csv`` and ``table.md`` to the output directory
(default ``benchmarks/results/sam_shadow``); the runs go under ``--work-dir`` (default ``work_dirs/sam_shadow``),
and a rerun with the same one reuses every finished run whose config is unchanged.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from visadapt.runner import load_config  # noqa: E402
from visadapt.cli import csv_list, pick  # noqa: E402
from visadapt.runner.many import map_jobs, train_or_reuse  # noqa: E402

_PEFT_LRS, _FULL_LRS = [1e-3, 3e-3, 1e-2], [3e-4, 1e-3, 3e-3]
_FROZEN_DECODER = {"task.train_decoder": False}
_CLICKS = {"task.prompt.mode": "points", "task.prompt.positives": 1, "task.prompt.negatives": 1}
# name -> (config, cfg options, lr grid searched on val200; None = nothing trains)
METHODS: dict[str, tuple[str, dict, list[float] | None]] = {
    "source (frozen)": ("configs/sam_adapter/source_sam_tiny_shapes_shadow.py", {}, None),
    "decoder only": ("configs/sam_adapter/decoder_sam_tiny_shapes_shadow.py", {}, _PEFT_LRS),
    "LoRA q+v r4": ("configs/sam_adapter/lora_sam_tiny_shapes_shadow.py", _FROZEN_DECODER, _PEFT_LRS),
    "LoRA q+v r4 + decoder (SAMed)": ("configs/sam_adapter/lora_sam_tiny_shapes_shadow.py", {}, _PEFT_LRS),
    "adapters": ("configs/sam_adapter/adapter_sam_tiny_shapes_shadow.py", _FROZEN_DECODER, _PEFT_LRS),
    "adapters + decoder (MSA)": ("configs/sam_adapter/adapter_sam_tiny_shapes_shadow.py", {}, _PEFT_LRS),
    "full fine-tuning": ("configs/sam_adapter/full_sam_tiny_shapes_shadow.py", {}, _FULL_LRS),
    # Prompted with one click on the shadow and one on the background (MSA's clicks), source and adapted.
    "source (frozen) + clicks": ("configs/sam_adapter/source_sam_tiny_shapes_shadow.py", _CLICKS, None),
    "adapters + decoder + clicks": ("configs/sam_adapter/adapter_points_sam_tiny_shapes_shadow.py", {}, _PEFT_LRS),
}
METRICS = ("dice", "iou", "ber", "mae")


def run(item: tuple[str, float | None, int, bool], work: Path) -> dict[str, Any]:
    """Train (or reuse) one run: (method, lr, seed, with test split)."""
    name, lr, seed, with_test = item
    config, extra, _ = METHODS[name]
    options: dict[str, Any] = {"seed": seed, "trainer.enable_progress_bar": False,
                               "trainer.enable_model_summary": False, **extra}
    if lr is not None:
        options["optimizer.lr"] = lr
    cfg = load_config(ROOT / config, options)
    if not with_test:
        cfg.data.test = None
    tag = "final" if with_test else "select"
    slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    return train_or_reuse(cfg, work / f"{slug}_{tag}", threads=1)


def last_val_dice(run_dir: str) -> float:
    rows = [r for r in csv.DictReader(open(Path(run_dir) / "logs" / "metrics.csv")) if r.get("val/dice")]
    return float(rows[-1]["val/dice"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results" / "sam_shadow")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "work_dirs" / "sam_shadow")
    parser.add_argument("--methods", default=None, help=f"comma-separated subset of: {', '.join(METHODS)}")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args(argv)
    methods = pick(csv_list(args.methods), list(METHODS), "method")
    seeds = csv_list(args.seeds, int)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)

    selection = [(m, lr, seeds[0], False) for m in methods for lr in METHODS[m][2] or []]
    picked = map_jobs(run, selection, args.jobs, work=args.work_dir)
    rows = [dict(method=m, lr=lr, val_dice=round(last_val_dice(r["run_dir"]), 6))
            for (m, lr, _, _), r in zip(selection, picked)]
    chosen = {m: max((r for r in rows if r["method"] == m), key=lambda r: r["val_dice"])["lr"]
              for m in {r["method"] for r in rows}}
    _write_csv(out / "selection.csv", [r | {"chosen": r["lr"] == chosen[r["method"]]} for r in rows])

    finals = [(m, chosen.get(m), s, True) for m in methods for s in (seeds if METHODS[m][2] else seeds[:1])]
    results = map_jobs(run, finals, args.jobs, work=args.work_dir)
    table = []
    for (m, lr, seed, _), r in zip(finals, results):
        table.append(dict(method=m, lr=lr, seed=seed, trainable=r["parameters"]["trainable"],
                          total=r["parameters"]["total"], fit_seconds=r["fit_seconds"],
                          **{k: r["metrics"][f"test/{k}"] for k in METRICS}))
    _write_csv(out / "results.csv", table)
    (out / "table.md").write_text(markdown(table, seeds))
    print(markdown(table, seeds))
    return 0


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown(rows: list[dict], seeds: list[int]) -> str:
    lines = ["| method | lr (val200) | trainable params | share | Dice | IoU | BER | MAE |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        cells = []
        for k in METRICS:
            values = [100 * r[k] for r in mine]
            std = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
            cells.append(f"{statistics.mean(values):.1f}{std}")
        first = mine[0]
        lr = "-" if first["lr"] is None else f"{first['lr']:g}"
        share = 100 * first["trainable"] / first["total"]
        lines.append(f"| {method} | {lr} | {first['trainable']:,} | {share:.1f}% | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Test split (2,000 images), % (mean ± std over seeds {', '.join(map(str, seeds))} for trained "
                 "methods; the frozen source model is deterministic). Dice / IoU: higher is better; BER / MAE: lower.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
