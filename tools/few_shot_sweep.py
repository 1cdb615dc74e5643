"""Few-shot sweep: every method config x dataset x K shots x seed, trained and tested once, in one table.

    python tools/few_shot_sweep.py configs/benchmark/few_shot_clip_tiny_shapes.py [--methods a,b] [--datasets x]
                                   [--shots 1,2,4,8,16] [--seeds 1,2,3] [--jobs N] [--threads T] [--out-dir DIR]
                                   [--quick] [--previous results.csv]

Each run is the method's own config (``tools/train.py`` would run the same thing) with the dataset's overrides,
``data.train.shots=K`` and ``seed=S``; the runner saves the few-shot draw in the run directory
(``few_shot_split.json``).
Methods marked ``uses_shots=False`` (zero-shot) run once per dataset. Nothing is selected on test: every run is
its recipe's last iterate, tested once.

Writes ``results.csv`` (one row per run), ``table.md`` (mean +- std over seeds per method and K, per dataset and
averaged over datasets) and ``accuracy_vs_shots.png`` to the output directory; runs sit under ``runs/``. Rerunning
with the same ``--out-dir`` reuses every finished run whose config is unchanged. ``--quick`` shrinks the schedules
and test sets so the whole pipeline runs in seconds (its numbers mean nothing). ``--previous CSV`` carries the rows of
an earlier ``results.csv`` for the methods this invocation does not run (e.g. CLIP-LoRA's long runs) into the new
``results.csv`` and table as they are (their ``run_dir`` points into that earlier sweep).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmengine.config import Config  # noqa: E402

from visadapt.registry import ConfigError  # noqa: E402
from visadapt.config import check_top_level, load_config  # noqa: E402
from visadapt.cli import USER_ERRORS, csv_list, fail, pick  # noqa: E402

SWEEP_KEYS = {"sweep": "dict(methods=..., datasets=..., shots=[...], seeds=[...])"}
QUICK = {"test_samples": 60, "steps_per_shot": 2, "epochs": 1, "views": 2}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", help="sweep config (configs/benchmark/few_shot_*.py)")
    parser.add_argument("--methods", help="comma-separated subset of the config's methods")
    parser.add_argument("--datasets", help="comma-separated subset of the config's datasets")
    parser.add_argument("--shots", help="comma-separated K values (default: the config's)")
    parser.add_argument("--seeds", help="comma-separated seeds (default: the config's)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once, in spawned processes")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run (0: torch's default)")
    parser.add_argument("--out-dir", help="default: work_dirs/<config name>")
    parser.add_argument("--quick", action="store_true", help="tiny schedules and test sets: a smoke test")
    parser.add_argument("--previous", help="an earlier results.csv whose rows of methods not run now are kept")
    return parser.parse_args(argv)


def load_sweep(path: str | Path) -> dict[str, Any]:
    cfg = load_config(path, keys=SWEEP_KEYS, required=("sweep",))
    spec = cfg.to_dict()["sweep"]
    for key in ("methods", "datasets", "shots", "seeds"):
        if not spec.get(key):
            raise ConfigError(f"{path}: sweep.{key} is missing or empty")
    for name, method in spec["methods"].items():
        if not isinstance(method, dict) or "config" not in method:
            raise ConfigError(f"{path}: sweep.methods.{name} must be dict(config='configs/...py', uses_shots=True)")
        if not Path(method["config"]).is_file():
            raise FileNotFoundError(f"{path}: sweep.methods.{name}.config '{method['config']}' not found")
    return spec


@dataclasses.dataclass(frozen=True)
class Run:
    method: str
    dataset: str
    shots: int  # 0: a method that does not use the support set
    seed: int

    @property
    def work_root(self) -> str:
        return f"runs/{self.dataset}/{self.method}/k{self.shots}_seed{self.seed}"


def run_config(spec: dict, run: Run, quick: bool) -> Config:
    method = spec["methods"][run.method]
    base = Config.fromfile(method["config"])
    base.merge_from_dict(spec["datasets"][run.dataset])  # mmengine merges nested dicts key by key
    d = base.to_dict()
    d["seed"] = run.seed
    d["data"]["train"]["shots"] = max(run.shots, 1)
    d["trainer"] = {**d.get("trainer", {}), "enable_progress_bar": False, "enable_model_summary": False}
    if quick:
        d["data"]["test"]["num_samples"] = QUICK["test_samples"]
        if "few_shot_schedule" in d:
            d["few_shot_schedule"] = {"max_steps_per_shot": QUICK["steps_per_shot"]}
            d.get("checkpoint", {}).pop("every_n_train_steps", None)  # keep last.ckpt at the (early) end
        elif d["trainer"].get("max_steps", -1) != 0:
            d["trainer"]["max_epochs"] = QUICK["epochs"]
        if "feature_views" in d.get("task", {}):
            d["task"]["feature_views"] = min(d["task"]["feature_views"], QUICK["views"])
    cfg = Config(d, filename=method["config"])
    check_top_level(cfg, method["config"])
    return cfg


def execute(run: Run, spec: dict, quick: bool, out: Path, threads: int) -> dict[str, Any]:
    from visadapt.runner.many import train_or_reuse

    return train_or_reuse(run_config(spec, run, quick), out / run.work_root, threads)


def _report(run: Run, res: dict[str, Any]) -> None:
    how = "reused" if res["reused"] else f"{res['fit_seconds']:.1f} s fit"
    print(f"  {run.dataset:>10} {run.method:>14} K={run.shots:<2} seed={run.seed}: "
          f"test top-1 {100 * res['metrics']['test/acc']:.1f} ({how})", flush=True)


# -- reporting -----------------------------------------------------------------------------------------------------
def summarize(rows: list[dict]) -> dict[tuple[str, str, int], tuple[float, float | None, int]]:
    """(dataset, method, K) -> (mean, std or None, number of seeds) of test top-1 %; dataset '' = the average
    over datasets of the per-dataset means (only where every dataset has that cell)."""
    cells: dict[tuple[str, str, int], list[float]] = {}
    for r in rows:
        cells.setdefault((r["dataset"], r["method"], r["shots"]), []).append(r["test_top1"])
    summary = {k: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else None, len(v)) for k, v in cells.items()}
    datasets = sorted({k[0] for k in summary})
    for method, shots in sorted({(k[1], k[2]) for k in summary}):
        means = [summary[(d, method, shots)][0] for d in datasets if (d, method, shots) in summary]
        if len(means) == len(datasets):
            summary[("", method, shots)] = (statistics.fmean(means), None, 0)
    return summary


def markdown_table(summary: dict, methods: list[str], shots: list[int], seeds: list[int]) -> str:
    datasets = sorted({k[0] for k in summary if k[0]})
    lines = [f"Test top-1 (%), mean +- std over seeds {seeds}; K = shots per class; the zero-shot row (K-independent) "
             "is repeated in every column.", ""]
    for dataset in datasets + ([""] if len(datasets) > 1 else []):
        lines += [f"### {dataset or 'Average over ' + ', '.join(datasets)}", "",
                  "| method | " + " | ".join(f"K={k}" for k in shots) + " |",
                  "|---|" + "---:|" * len(shots)]
        for method in methods:
            cells = []
            for k in shots:
                cell = summary.get((dataset, method, k)) or summary.get((dataset, method, 0))
                if cell is None:
                    cells.append("")
                else:
                    cells.append(f"{cell[0]:.1f}" + (f" +- {cell[1]:.1f}" if cell[1] is not None else ""))
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(summary: dict, methods: list[str], shots: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({k[0] for k in summary if k[0]}) + ([""] if len({k[0] for k in summary}) > 2 else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, dataset in zip(axes[0], panels):
        for method in methods:
            ys = [(summary.get((dataset, method, k)) or summary.get((dataset, method, 0)) or (None,))[0] for k in shots]
            if any(y is not None for y in ys):
                style = "--" if (dataset, method, 0) in summary else "-o"
                ax.plot(shots, ys, style, label=method, markersize=4)
        ax.set_xscale("log", base=2)
        ax.set_xticks(shots, [str(k) for k in shots])
        ax.set_title(dataset or "average")
        ax.set_xlabel("shots per class")
        ax.set_ylabel("test top-1 (%)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def previous_rows(path: str | Path, spec: dict, running: set[str], datasets: list[str], shots: list[int],
                  seeds: list[int]) -> list[dict]:
    """The rows of an earlier ``results.csv`` for methods of ``spec`` not in ``running``, within the sweep's
    datasets, shots and seeds (zero-shot rows have shots 0)."""
    kinds = {"shots": int, "seed": int, "test_top1": float, "fit_seconds": float, "trainable_params": int}
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            row = {k: kinds.get(k, str)(v) for k, v in row.items()}
            if (row["method"] in spec["methods"] and row["method"] not in running and row["dataset"] in datasets
                    and (row["shots"] in shots or row["shots"] == 0) and row["seed"] in seeds):
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        spec = load_sweep(args.config)
        methods = pick(csv_list(args.methods), list(spec["methods"]), "method")
        datasets = pick(csv_list(args.datasets), list(spec["datasets"]), "dataset")
        shots = csv_list(args.shots, int) or spec["shots"]
        seeds = csv_list(args.seeds, int) or spec["seeds"]
    except USER_ERRORS as err:  # reported before Lightning is imported
        return fail(err)
    from visadapt.runner.many import map_jobs

    out = Path(args.out_dir or Path("work_dirs") / Path(args.config).stem)
    runs = []
    for dataset in datasets:
        for method in methods:
            if spec["methods"][method].get("uses_shots", True):
                runs += [Run(method, dataset, k, s) for k in shots for s in seeds]
            else:
                runs.append(Run(method, dataset, 0, seeds[0]))
    runs.sort(key=lambda r: -r.shots)  # the longest runs first, so parallel workers finish together
    print(f"{len(runs)} runs ({args.jobs} at a time) -> {out}", flush=True)
    results = map_jobs(execute, runs, args.jobs, report=_report, spec=spec, quick=args.quick, out=out,
                       threads=args.threads)
    rows = [{"dataset": r.dataset, "method": r.method, "shots": r.shots, "seed": r.seed,
             "test_top1": round(100 * res["metrics"]["test/acc"], 2), "fit_seconds": res["fit_seconds"],
             "trainable_params": res["parameters"]["trainable"], "run_dir": res["run_dir"]}
            for r, res in zip(runs, results)]
    if args.previous:
        kept = previous_rows(args.previous, spec, set(methods), datasets, shots, seeds)
        rows += kept
        methods = [m for m in spec["methods"] if m in methods or any(r["method"] == m for r in kept)]
        print(f"kept {len(kept)} rows of {args.previous} (methods {sorted({r['method'] for r in kept})})")
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = summarize(rows)
    table = markdown_table(summary, methods, shots, seeds)
    (out / "table.md").write_text(table + "\n")
    plot(summary, methods, shots, out / "accuracy_vs_shots.png")
    print("\n" + table)
    print(f"wrote {out / 'results.csv'}, {out / 'table.md'}, {out / 'accuracy_vs_shots.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
