"""A VTAB-1k-style PEFT benchmark: every method on every task of a suite, one table.

    python tools/benchmark_peft.py configs/benchmark/shapes_vtab.py [--methods a,b] [--tasks x,y] [--seeds 0,1,2]
                                   [--lrs 1e-3,3e-3] [--quick] [--out-dir DIR] [--jobs N]

Protocol (VTAB-1k): for each (method, task) and each learning rate of the method's grid, train on train800 and
validate on val200 (first seed); the lr with the best final val200 accuracy is chosen. Then, for each seed, train
on train800val200 (no validation) with the chosen lr and evaluate once on test. Test is never used for selection.

Writes to the output directory: ``selection.csv`` (one row per method x task x grid lr), ``results.csv`` (one row
per method x task x seed), ``table.md`` and ``accuracy_vs_params.png``; the runs sit under ``runs/``. Step time and
memory relative to full fine-tuning, and merged inference time relative to the base model, are measured side by
side in this process with the functions of ``benchmarks/bench_adapters.py``.

``--jobs N`` trains N runs at a time in spawned processes (each with ``--threads`` CPU threads, on the config's
accelerator). Rerunning with the same ``--out-dir`` reuses every finished run whose config is unchanged, so an
interrupted benchmark continues where it stopped.

``--quick`` shrinks everything (a few dozen images, 1 epoch, 1 lr unless ``--lrs`` is given, 2 timed steps) so the
whole pipeline runs in seconds; its numbers mean nothing. Note that a shrunk ``train800val200`` split is a prefix
of train800 (the split is train800 followed by val200), so quick final runs do not see val200 images.
"""
from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "benchmarks"))  # bench_adapters imports its sibling _measure as a top-level module

import torch  # noqa: E402
from torch import nn  # noqa: E402
from mmengine.config import Config  # noqa: E402

import bench_adapters as bench  # noqa: E402
from _measure import interleave, ratio_stats  # noqa: E402
from visadapt import adapters as A  # noqa: E402
from visadapt.adapters.mosa import merge_subadapters, mosa_layers  # noqa: E402
from visadapt.registry import DATASETS, ConfigError  # noqa: E402
from visadapt.cli import csv_list, pick  # noqa: E402
from visadapt.runner.many import map_jobs, train_or_reuse  # noqa: E402
from visadapt.backbones.build import build_backbone  # noqa: E402
from visadapt.config import to_plain  # noqa: E402
from visadapt.runner.build import build_task  # noqa: E402
from visadapt.config import check_top_level  # noqa: E402
from visadapt.runner.workdir import RUN_DIR_ENV  # noqa: E402

# --quick: split sizes, epochs and measurement lengths that run the pipeline in seconds.
QUICK = dict(train=48, val=32, test=64, epochs=1, steps=2, forwards=2)
COST_CLASSES = bench.NUM_CLASSES  # head size of the models built for the cost measurement (bench's random labels)
MEAN_TASKS = "mean over tasks"
MEAN_GROUPS = "mean of group means"
# The VTAB-1k protocol's four splits; a benchmark config may rename them (e.g. FGVC: train / val / trainval / test).
DEFAULT_SPLITS = dict(select_train="train800", select_val="val200", final_train="train800val200", test="test")


class BenchmarkError(ValueError):
    """A bad benchmark config or command line (unknown method, task, ...)."""


# -- configuration -------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", help="benchmark config (configs/benchmark/...py)")
    parser.add_argument("--methods", help="comma-separated subset of the config's methods (default: all)")
    parser.add_argument("--tasks", help="comma-separated subset of the suite's tasks (default: all)")
    parser.add_argument("--seeds", help="comma-separated seeds of the final runs (default: the config's)")
    parser.add_argument("--lrs", help="comma-separated lr grid for every method (default: each method's grid)")
    parser.add_argument("--quick", action="store_true", help="tiny subsets, 1 epoch, 1 lr: a smoke run")
    parser.add_argument("--out-dir", help="default: work_dirs/benchmark_peft/<timestamp>")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: for the tiny model on a busy CPU, more threads are "
                             "slower, e.g. 25 s vs ~2 s per LoRA epoch measured on a loaded 2-core machine)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at a time, in separate processes")
    return parser.parse_args(argv)


def load_benchmark(path: str | Path) -> tuple[dict, dict]:
    """The base experiment (a plain dict of run-config keys) and the ``benchmark`` section, both checked."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"benchmark config not found: {path}")
    cfg = Config.fromfile(str(path))
    base = to_plain(cfg.to_dict())
    if "benchmark" not in base:
        raise BenchmarkError(f"{path}: no 'benchmark' dict (suite, methods, lr_grid, epochs, seeds)")
    spec = base.pop("benchmark")
    # The file's helper variables (``_HEAD_LR``, ``_task``, ...) are not run settings: dropped, so that a run's
    # config (and whether an earlier run can be reused) depends only on what the run uses.
    base = {k: v for k, v in base.items() if not k.startswith("_")}
    check_top_level(Config(base), str(path))
    for key in ("suite", "methods", "dataset"):
        if not spec.get(key):
            raise BenchmarkError(f"{path}: benchmark.{key} is missing or empty")
    if "type" not in spec["dataset"]:
        raise BenchmarkError(f"{path}: benchmark.dataset needs a 'type' (a registered dataset: {DATASETS.list()})")
    unknown_splits = set(spec.get("splits", {})) - set(DEFAULT_SPLITS)
    if unknown_splits:
        raise BenchmarkError(f"{path}: benchmark.splits: unknown key(s) {sorted(unknown_splits)}; valid keys: "
                             f"{', '.join(DEFAULT_SPLITS)}")
    spec["splits"] = {**DEFAULT_SPLITS, **spec.get("splits", {})}
    stray = set(spec.get("task_data", {})) - {t for ts in spec["suite"].values() for t in ts}
    if stray:
        raise BenchmarkError(f"{path}: benchmark.task_data names task(s) not in the suite: {sorted(stray)}")
    published = spec.get("published")
    if published is not None:
        if set(published) != {"source", "convention", "values"}:
            raise BenchmarkError(f"{path}: benchmark.published needs exactly source=..., convention=..., "
                                 f"values=dict(method=number, ...); got keys {sorted(published)}")
        stray = set(published["values"]) - set(spec["methods"])
        if stray:
            raise BenchmarkError(f"{path}: benchmark.published.values names unknown method(s) {sorted(stray)}")
    valid_types = A.list_adapters()
    for name, method in spec["methods"].items():
        if not isinstance(method, dict) or "adapter" not in method:
            raise BenchmarkError(f"{path}: benchmark.methods.{name} needs dict(adapter=dict(type=...), ...)")
        if method["adapter"].get("type") not in valid_types:
            raise BenchmarkError(f"{path}: benchmark.methods.{name}: unknown adapter type "
                                 f"{method['adapter'].get('type')!r}; valid types: {', '.join(valid_types)}")
        extra = set(method) - {"adapter", "optimizer", "lr_grid"}
        if extra:
            raise BenchmarkError(f"{path}: benchmark.methods.{name}: unknown key(s) {sorted(extra)}; "
                                 "valid keys: adapter, optimizer, lr_grid")
    return base, spec


def task_dataset(spec: dict, task: str, split: str) -> dict:
    """The dataset config of ``task`` on ``split``: ``benchmark.dataset`` with ``{task}`` filled in."""
    fill = {k: (v.format(task=task) if isinstance(v, str) else v) for k, v in spec["dataset"].items()}
    return {**fill, **spec.get("task_data", {}).get(task, {}), "split": split}


def check_tasks(spec: dict, tasks: list[str]) -> None:
    """Build every task's selection-train split once: a missing folder or unknown task fails before any training."""
    for task in tasks:
        try:
            DATASETS.build(task_dataset(spec, task, spec["splits"]["select_train"]))
        except (ConfigError, FileNotFoundError) as err:
            raise BenchmarkError(f"benchmark task '{task}': {err}") from err


def run_config(base: dict, spec: dict, method: dict, task: str, lr: float, seed: int, epochs: int, final: bool,
               quick: bool, source: str) -> Config:
    """One run's config: the base experiment + the method + the task, on the selection or the final splits."""
    d = copy.deepcopy(base)
    d["adapter"] = copy.deepcopy(method["adapter"])
    d["optimizer"] = {**d.get("optimizer", {}), **method.get("optimizer", {}), "lr": float(lr)}
    d["seed"] = int(seed)
    d["trainer"] = {**d.get("trainer", {}), "max_epochs": int(epochs), "enable_progress_bar": False,
                    "enable_model_summary": False}
    data, splits = d["data"], spec["splits"]
    if final:  # train800val200 -> one test evaluation; no validation, nothing selected
        data["train"] = task_dataset(spec, task, splits["final_train"])
        data["val"] = None
        data["test"] = task_dataset(spec, task, splits["test"])
    else:  # train800 -> val200; test is not even built
        data["train"] = task_dataset(spec, task, splits["select_train"])
        data["val"] = task_dataset(spec, task, splits["select_val"])
        data["test"] = None
    if quick:
        data["train"]["num_samples"] = QUICK["train"]
        if data["val"]:
            data["val"]["num_samples"] = QUICK["val"]
        if data["test"]:
            data["test"]["num_samples"] = QUICK["test"]
        if d.get("scheduler"):
            d["scheduler"] = {**d["scheduler"], "warmup_epochs": 0}
    cfg = Config(d, filename=source)
    check_top_level(cfg, source)
    return cfg


# -- runs ----------------------------------------------------------------------------------------------------------
def last_val_acc(run_dir: Path) -> float:
    """Val accuracy at the end of training (the iterate a final run would keep), from the run's CSV log."""
    rows = [r for r in csv.DictReader(open(Path(run_dir) / "logs" / "metrics.csv")) if r.get("val/acc")]
    if not rows:
        raise RuntimeError(f"{run_dir}: no val/acc in logs/metrics.csv")
    return float(rows[-1]["val/acc"])


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of the benchmark: a grid point on train800 -> val200, or a final seed -> test."""
    name: str
    group: str
    task: str
    lr: float
    seed: int
    final: bool

    @property
    def work_root(self) -> str:
        leaf = f"final_seed{self.seed}" if self.final else f"select_lr{self.lr:g}"
        return f"runs/{self.name}/{self.task}/{leaf}"


def execute(run: Run, base: dict, spec: dict, epochs: int, quick: bool, out: Path, source: str,
            threads: int) -> dict[str, Any]:
    """Train one run (or reuse its finished twin) and return its results; runs in a worker process with --jobs."""
    cfg = run_config(base, spec, spec["methods"][run.name], run.task, run.lr, run.seed, epochs, final=run.final,
                     quick=quick, source=source)
    return train_or_reuse(cfg, out / run.work_root, threads)


def execute_all(runs: list[Run], jobs: int, **kwargs: Any) -> list[dict[str, Any]]:
    """Results of ``runs`` in order; ``jobs`` > 1 trains them in that many spawned processes (CUDA-safe)."""
    return map_jobs(execute, runs, jobs, report=_report, **kwargs)


def _report(run: Run, res: dict[str, Any]) -> dict[str, Any]:
    how = "reused" if res["reused"] else f"{res['fit_seconds']:.1f} s"
    if run.final:
        print(f"  final  {run.name:>14} {run.task:>12} lr={run.lr:g} seed={run.seed}: "
              f"test acc {res['metrics']['test/acc']:.4f} ({how})", flush=True)
    else:
        print(f"  select {run.name:>14} {run.task:>12} lr={run.lr:g}: val200 acc "
              f"{last_val_acc(Path(res['run_dir'])):.4f} ({how})", flush=True)
    return res


def select_and_finalize(pairs: list[tuple[str, str, str, list[float]]], seeds: list[int], jobs: int,
                        **kwargs: Any) -> tuple[list[dict], list[dict]]:
    """The VTAB-1k protocol for every (method, group, task, lr grid): every grid lr on train800 -> val200 with the
    first seed, the best final val accuracy chosen (first of ties, grid order), then every seed on train800val200
    with that lr and one test evaluation. Test is never used for selection."""
    grid_runs = [Run(n, g, t, lr, seeds[0], final=False) for n, g, t, grid in pairs for lr in grid]
    selection = []
    for run, res in zip(grid_runs, execute_all(grid_runs, jobs, **kwargs)):
        if "test/acc" in res["metrics"]:
            raise RuntimeError("a selection run evaluated on test")  # the protocol never selects on test
        selection.append(dict(method=run.name, group=run.group, task=run.task, lr=run.lr, seed=run.seed,
                              val_acc=round(last_val_acc(Path(res["run_dir"])), 6), chosen=False,
                              test_evaluated="test/acc" in res["metrics"], fit_seconds=res["fit_seconds"],
                              run_dir=res["run_dir"]))
    final_runs = []
    for n, g, t, _ in pairs:
        rows = [r for r in selection if (r["method"], r["task"]) == (n, t)]
        best = max(rows, key=lambda r: r["val_acc"])  # max() keeps the first of ties
        best["chosen"] = True
        final_runs += [Run(n, g, t, best["lr"], seed, final=True) for seed in seeds]
    chosen = {(r["method"], r["task"]): r for r in selection if r["chosen"]}
    finals = []
    for run, res in zip(final_runs, execute_all(final_runs, jobs, **kwargs)):
        finals.append(dict(method=run.name, group=run.group, task=run.task, seed=run.seed, chosen_lr=run.lr,
                           val_acc=chosen[(run.name, run.task)]["val_acc"],
                           test_acc=round(res["metrics"]["test/acc"], 6),
                           trainable_params=res["parameters"]["trainable"], total_params=res["parameters"]["total"],
                           fit_seconds=res["fit_seconds"], run_dir=res["run_dir"]))
    return selection, finals


# -- costs (side by side, one process; functions of benchmarks/bench_adapters.py) ----------------------------------
def _cost_task(base: dict, spec: dict, method: dict, task: str, source: str, device: torch.device) -> nn.Module:
    """The method's ClassificationTask (adapted backbone, head in modules_to_save), as a training run builds it."""
    cfg = run_config(base, spec, method, task, 1e-3, 0, 1, final=False, quick=True, source=source)
    torch.manual_seed(bench.SEED)
    return build_task(cfg, {"num_classes": COST_CLASSES}).to(device)


def deploy(model: nn.Module) -> str:
    """Put an adapted timm model (in place) in the form it is served in; returns that form's name."""
    if mosa_layers(model):
        merge_subadapters(model)
        return "sub-adapters merged"
    before = A.count_parameters(model)["total"]
    try:
        A.merge(model, strict=True)
    except TypeError:  # not foldable into the base weights (bottleneck adapters, prompts): stays a module
        return "as trained"
    return "merged into weights" if A.count_parameters(model)["total"] < before else "no added modules"


def measure_costs(base: dict, spec: dict, names: list[str], task: str, steps: int, forwards: int,
                  source: str) -> dict[str, dict[str, Any]]:
    """Per method, side by side in this process: training step time and memory / full fine-tuning (the method's
    own objective, e.g. MoSA's two passes), and inference time / the model without adapter in the deployed form."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    methods = {n: spec["methods"][n] for n in names}
    reference = "full"
    if not any(m["adapter"]["type"] == "full" for m in methods.values()):
        methods[reference] = dict(adapter=dict(type="full"))
    else:
        reference = next(n for n, m in methods.items() if m["adapter"]["type"] == "full")
    image_size = int(spec.get("measure", {}).get("image_size", spec["dataset"].get("image_size", 224)))
    batch_size = int(base["data"].get("batch_size", 32))
    preset = bench.Preset("", {}, image_size, batch_size)
    batch = bench.make_batch(preset, batch_size, device)

    memory = {}
    for name, method in methods.items():  # one model on the device at a time (a clean CUDA peak)
        model = _cost_task(base, spec, method, task, source, device).train()
        memory[name] = bench.step_memory(model, batch, device, lambda x, y, m=model: m.objective(x, y)[0])
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    fns = {}
    for name, method in methods.items():
        model = _cost_task(base, spec, method, task, source, device).train()
        fns[name] = bench._step_fn(model, bench.make_optimizer(model), batch,
                                   lambda x, y, m=model: m.objective(x, y)[0])
    interleave(fns, bench.WARMUP_STEPS, device)
    times = interleave(fns, steps, device)
    del fns

    cfg = run_config(base, spec, dict(adapter=dict(type="full")), task, 1e-3, 0, 1, final=False, quick=True,
                     source=source)
    torch.manual_seed(bench.SEED)
    infer = {"base": build_backbone(to_plain(cfg.backbone), num_classes=COST_CLASSES).to(device).eval()}  # no adapter injected at all
    forms = {}
    for name in names:
        infer[name] = _cost_task(base, spec, methods[name], task, source, device).backbone.eval()
        forms[name] = deploy(infer[name].model)
    with torch.inference_mode():
        ffns = {n: bench._forward_fn(m, batch[0]) for n, m in infer.items()}
        interleave(ffns, bench.WARMUP_STEPS, device)
        ftimes = interleave(ffns, forwards, device)

    costs = {}
    for name in names:
        costs[name] = dict(
            step_ratio=ratio_stats(times[name], times[reference]),
            memory_ratio=memory[name] / memory[reference],
            infer_ratio=ratio_stats(ftimes[name], ftimes["base"]),
            deployed=forms[name],
            deployed_params=A.count_parameters(infer[name].model)["total"],
        )
    costs["_twins"] = deployed_twins(infer, names, ftimes)
    costs["_meta"] = dict(device=device.type, batch=batch_size, image_size=image_size, steps=steps,
                          forwards=forwards, full_step_ms=1000 * statistics.median(times[reference]),
                          memory_measure="CUDA max_memory_allocated" if device.type == "cuda"
                          else "saved-for-backward + params + grads + AdamW state")
    return costs


def deployed_twins(infer: dict[str, nn.Module], names: list[str], ftimes: dict) -> list[dict[str, Any]]:
    """Pairs of methods whose deployed models are the same architecture (same injected adapter configs), e.g.
    MoSA after merging its sub-adapters and the plain adapter of that width: their size and speed must match."""
    twins = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            configs_a, configs_b = A.injected_configs(infer[a].model), A.injected_configs(infer[b].model)
            if configs_a and configs_a == configs_b:
                twins.append(dict(methods=(a, b), params=tuple(A.count_parameters(infer[m].model)["total"]
                                                             for m in (a, b)),
                                  infer_ratio=ratio_stats(ftimes[a], ftimes[b])))
    return twins


# -- report --------------------------------------------------------------------------------------------------------
def _mean_std(values: list[float]) -> tuple[float, float | None]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def summarize(finals: list[dict], names: list[str], groups: dict[str, list[str]]) -> dict[str, dict]:
    summary = {}
    for name in names:
        rows = [r for r in finals if r["method"] == name]
        per_task = {t: _mean_std([r["test_acc"] for r in rows if r["task"] == t])
                    for g in groups.values() for t in g}
        group_means = {g: statistics.fmean(per_task[t][0] for t in tasks) for g, tasks in groups.items()}
        summary[name] = dict(
            per_task=per_task,
            group_means=group_means,
            mean_tasks=statistics.fmean(m for m, _ in per_task.values()),
            mean_groups=statistics.fmean(group_means.values()),
            params=round(statistics.fmean(r["trainable_params"] for r in rows)),
            total=round(statistics.fmean(r["total_params"] for r in rows)),
        )
    return summary


def _acc_cell(mean: float, std: float | None) -> str:
    return f"{100 * mean:.1f}" + (f" ± {100 * std:.1f}" if std is not None else "")


def _ratio_cell(stats: tuple[float, float, float] | None) -> str:
    return "—" if stats is None else f"{stats[0]:.2f} ({stats[1]:.2f}–{stats[2]:.2f})"


def markdown_table(summary: dict, costs: dict, groups: dict[str, list[str]], seeds: list[int], epochs: int,
                   quick: bool, command: str, splits: dict[str, str], published: dict | None = None) -> str:
    tasks = [t for g in groups.values() for t in g]
    short = {g: g[:4] for g in groups}
    meta = costs["_meta"]
    head = ["method", "trainable params"] + [f"{t} ({short[g]})" for g, ts in groups.items() for t in ts]
    head += [f"{MEAN_TASKS}", f"{MEAN_GROUPS}", "step time / full", "memory / full", "inference / base",
             "deployed as"]
    if published:
        head.append(f"published ({published['convention']})")
    smoke = " (QUICK SMOKE RUN: numbers are meaningless)" if quick else ""
    lines = [
        f"**PEFT benchmark, VTAB-1k protocol** — `{command}`{smoke}",
        "",
        f"Test top-1 accuracy (%) on {splits['test']} after training on {splits['final_train']} with the lr chosen on "
        f"{splits['select_val']} ({splits['select_train']} → {splits['select_val']}, seed {seeds[0]}); "
        f"{epochs} epoch(s); mean"
        + (f" ± std over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f" of seed {seeds[0]}") + ". "
        "Groups: " + "; ".join(f"{g} ({short[g]}): {', '.join(ts)}" for g, ts in groups.items()) + ". "
        f"**{MEAN_TASKS}**: the plain average of the {len(tasks)} task accuracies; **{MEAN_GROUPS}**: the average "
        f"of the per-group averages (each group weighs the same). Trainable params include the new head (averaged "
        f"over tasks, whose heads differ). Cost columns: median (interquartile range) of {meta['steps']} per-round "
        f"ratios, methods side by side in one process ({meta['device']}, batch {meta['batch']}, "
        f"{meta['image_size']}×{meta['image_size']}); a step is the method's own objective (MoSA: two passes and "
        f"the consistency term) + backward + AdamW; memory = {meta['memory_measure']}; inference: "
        f"{meta['forwards']} forwards of the model as deployed (LoRA-like methods merged into the weights, MoSA's "
        f"sub-adapters merged into one adapter, others as trained) vs the model without adapter. Full fine-tuning "
        f"step for scale: {meta['full_step_ms']:.1f} ms."
        + (f" Published column: {published['source']} (for comparison; not produced by this command)."
           if published else ""),
        "",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
    ]
    for name, s in summary.items():
        c = costs[name]
        cells = [name, f"{s['params']:,}"] + [_acc_cell(*s["per_task"][t]) for t in tasks]
        cells += [f"{100 * s['mean_tasks']:.1f}", f"{100 * s['mean_groups']:.1f}", _ratio_cell(c["step_ratio"]),
                  f"{c['memory_ratio']:.2f}", _ratio_cell(c["infer_ratio"]), c["deployed"]]
        if published:
            value = published["values"].get(name)
            cells.append("—" if value is None else f"{value:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    for twin in costs["_twins"]:
        (a, b), (pa, pb) = twin["methods"], twin["params"]
        lines += ["", f"Deployed `{a}` and `{b}` are the same architecture: {pa:,} vs {pb:,} parameters, inference "
                      f"time {a} / {b} = {_ratio_cell(twin['infer_ratio'])}."]
    return "\n".join(lines) + "\n"


def accuracy_figure(summary: dict, quick: bool = False):
    """Accuracy vs trainable parameters, one marker per method named in a legend beside the axes (labels next to
    the points overlapped where methods have similar sizes and scores); a --quick run says so in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    markers = "osD^vP*h<>pd"
    colours = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 7]  # grey is for the x markers
    for i, (name, s) in enumerate(summary.items()):
        ax.scatter(s["params"], 100 * s["mean_groups"], label=name, marker=markers[i % len(markers)], s=40,
                   color=colours[i % len(colours)])
        ax.scatter(s["params"], 100 * s["mean_tasks"], marker="x", color="grey", s=20)
    ax.scatter([], [], marker="x", color="grey", label=MEAN_TASKS)
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (log scale)")
    ax.set_ylabel("test accuracy (%)")
    title = f"Accuracy vs trainable parameters\n(coloured: {MEAN_GROUPS}, x: {MEAN_TASKS})"
    if quick:
        title = "QUICK SMOKE RUN: numbers are meaningless\n" + title
    ax.set_title(title, fontsize=10, color="red" if quick else "black")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def plot(summary: dict, path: Path, quick: bool = False) -> None:
    import matplotlib.pyplot as plt

    fig = accuracy_figure(summary, quick)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# -- main ----------------------------------------------------------------------------------------------------------
def run_benchmark(args: argparse.Namespace) -> Path:
    base, spec = load_benchmark(args.config)
    source = str(Path(args.config).resolve())
    all_tasks = [t for ts in spec["suite"].values() for t in ts]
    names = pick(csv_list(args.methods), list(spec["methods"]), "method")
    tasks = pick(csv_list(args.tasks), all_tasks, "task")
    groups = {g: [t for t in ts if t in tasks] for g, ts in spec["suite"].items()}
    groups = {g: ts for g, ts in groups.items() if ts}
    check_tasks(spec, tasks)
    seeds = csv_list(args.seeds, int) or [int(s) for s in spec.get("seeds", [base.get("seed", 0)])]
    lr_override = csv_list(args.lrs, float)
    epochs = QUICK["epochs"] if args.quick else int(spec.get("epochs", base["trainer"].get("max_epochs", 1)))
    measure = spec.get("measure", {})
    steps = QUICK["steps"] if args.quick else int(measure.get("steps", 20))
    forwards = QUICK["forwards"] if args.quick else int(measure.get("forwards", 40))
    out = Path(args.out_dir or ROOT / "work_dirs" / "benchmark_peft" / time.strftime("%Y%m%d_%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python tools/benchmark_peft.py", *sys.argv[1:]]) if args.argv is None else \
        " ".join(["python tools/benchmark_peft.py", *args.argv])

    pairs = []
    for name in names:
        grid = lr_override or [float(x) for x in spec["methods"][name].get("lr_grid", spec.get("lr_grid", [1e-3]))]
        if args.quick and lr_override is None:
            grid = grid[:1]
        pairs += [(name, group, task, grid) for group, ts in groups.items() for task in ts]
    start = time.perf_counter()
    selection, finals = select_and_finalize(pairs, seeds, args.jobs, base=base, spec=spec, epochs=epochs,
                                            quick=args.quick, out=out, source=source, threads=args.threads)
    write_csv(out / "selection.csv", selection)
    write_csv(out / "results.csv", finals)
    print(f"trained {len(selection) + len(finals)} runs in {time.perf_counter() - start:.0f} s; measuring costs",
          flush=True)
    costs = measure_costs(base, spec, names, tasks[0], steps, forwards, source)
    summary = summarize(finals, names, groups)
    table = markdown_table(summary, costs, groups, seeds, epochs, args.quick, command, spec["splits"],
                           spec.get("published"))
    (out / "table.md").write_text(table)
    (out / "summary.json").write_text(json.dumps(
        {n: {k: v for k, v in s.items() if k != "per_task"} | {"per_task": {t: list(v) for t, v in
                                                                             s["per_task"].items()}}
         for n, s in summary.items()}, indent=2))
    plot(summary, out / "accuracy_vs_params.png", quick=args.quick)
    print("\n" + table)
    print(f"written to {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.argv = argv
    previous = os.environ.get(RUN_DIR_ENV)
    threads = torch.get_num_threads()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        run_benchmark(args)
    except (BenchmarkError, ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:  # train() points this at the last run; leave the environment as it was
        torch.set_num_threads(threads)
        if previous is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = previous
    return 0


if __name__ == "__main__":
    sys.exit(main())
