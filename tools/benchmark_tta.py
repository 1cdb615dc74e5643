"""Continual test-time adaptation benchmark: TTA configs over their streams, one table per protocol.

    python tools/benchmark_tta.py configs/tta/*_shapes_c.py [--cfg-options k=v ...] [--out-dir DIR]
                                  [--orders mixed gradual dirichlet [--order-cfg-options k=v ...]] [--cotta-rounds N]

Configs that share a stream and a source backbone form one table (e.g. the CNN protocol, ``*_resnet18_shapes_c.py``,
and the ViT protocol, ``*_vit_tiny_shapes_c.py``). Every table is framed by a ``clean`` row: the source model's error
on the same images without corruption. Each config runs in a fresh spawned process, one after the other, so their
images/s are measured without contention and each peak-memory reading is its own. ``--cfg-options`` apply to every
config (e.g. ``stream.samples_per_domain=200`` for a shorter stream). ``--orders`` reruns every config on streams of
other orders (``stream.order=...``, plus ``--order-cfg-options``, e.g. a shorter stream) and adds each one's mean
error as a column. Writes to the output directory: ``table.md`` (top-1 error per domain and method, mean, the other
orders' means, images/s, peak memory), ``errors.csv`` (table, method, domain, error), ``summary.json``, and each
run's ``results.json`` under ``runs/<config name>[@<order>]/``.

Peak memory is ``torch.cuda.max_memory_allocated`` on a GPU; on CPU it is the worker's peak resident set size during
the method's build and run (the kernel's VmHWM, reset just before) minus its resident size then, after a first build
of the same config has loaded every library: what the model copies, optimizer state, activations and the stream's
batches add.

Last, in this process: CoTTA's augmentation path with all views drawn, augmented and run through the teacher in one
batched call (``views_per_chunk=0``) against the reference's way (one augmented view and one teacher forward at a
time, ``views_per_chunk=1``), on the same batch, timed round-robin; the median ratio of the per-round times is
reported.
"""
from __future__ import annotations

import argparse
import csv
import gc
import json
import multiprocessing
import re
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from _measure import interleave, ratio_stats  # noqa: E402
from visadapt.registry import ConfigError  # noqa: E402
from visadapt.config import to_plain  # noqa: E402
from visadapt.tta.config import load_tta_config  # noqa: E402
from visadapt.tta.stream import ORDERS  # noqa: E402

COTTA_DEFAULT = ROOT / "configs" / "tta" / "cotta_vit_tiny_shapes_c.py"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("configs", nargs="+", help="TTA config files (configs/tta/...py)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                        help="key=value overrides applied to every config (e.g. stream.samples_per_domain=200)")
    parser.add_argument("--out-dir", help="default: work_dirs/benchmark_tta/<timestamp>")
    parser.add_argument("--orders", nargs="+", default=[], choices=[o for o in ORDERS if o != "sequential"],
                        help="also run every config on streams of these orders; their mean errors become columns")
    parser.add_argument("--order-cfg-options", nargs="+", action=DictAction, default={},
                        help="key=value overrides of the --orders runs only (e.g. stream.samples_per_domain=500)")
    parser.add_argument("--cotta-rounds", type=int, default=10,
                        help="timed rounds of the CoTTA augmentation comparison (0: skip it)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in KiB; -1 where unavailable."""
    try:
        return int(re.search(rf"^{field}:\s+(\d+)", Path("/proc/self/status").read_text(), re.M).group(1))
    except (OSError, AttributeError):
        return -1


def _reset_peak_rss() -> bool:
    """Set the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def run_one(config: str, options: dict, progress: bool) -> dict[str, Any]:
    """One config in this (fresh) process: its results plus the peak memory of running it.

    On CPU a first build of the config (then dropped) loads every library and lazily imported module, so the
    measurement, peak RSS during build + run minus RSS before, counts the method's models, optimizer state,
    activations and stream batches rather than imports."""
    from visadapt.tta.config import build_from_config, resolve_device, run_config

    cfg = load_tta_config(config, options)
    cuda = resolve_device(cfg.get("device", "auto")).type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    else:
        build_from_config(cfg)
        gc.collect()
    before, reset = _status_kib("VmRSS"), (not cuda) and _reset_peak_rss()
    results = run_config(cfg, progress=progress)
    if cuda:
        peak, measure = torch.cuda.max_memory_allocated(), "CUDA max_memory_allocated"
    elif reset and before >= 0:
        peak, measure = (_status_kib("VmHWM") - before) * 1024, "peak RSS increase over the run (VmHWM - VmRSS)"
    else:
        peak, measure = -1, "unavailable (no /proc/self/clear_refs)"
    return results | {"peak_memory_bytes": int(peak), "memory_measure": measure, "config": config}


def run_isolated(config: str, options: dict, progress: bool) -> dict[str, Any]:
    """``run_one`` in a spawned process (its own peak RSS, no state left over from the previous method)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(run_one, config, options, progress).result()


# -- CoTTA's augmentation path: batched vs one view at a time --------------------------------------------------
def cotta_augmentation_ratio(config: Path, options: dict, rounds: int) -> dict[str, Any]:
    """CoTTA.augmented_teacher with every view in one call (``views_per_chunk=0``) vs one view per call (the
    reference's loop), on the stream's first batch."""
    from visadapt.tta.config import build_from_config

    cfg = load_tta_config(config, options)
    cotta, stream = build_from_config(cfg)
    x = next(iter(stream.batches())).images.to(next(cotta.parameters()).device)

    def with_chunk(views_per_chunk: int):
        def run() -> torch.Tensor:
            cotta.views_per_chunk = views_per_chunk
            return cotta.augmented_teacher(x)
        return run

    with torch.no_grad():
        fns = {"batched": with_chunk(0), "one view at a time": with_chunk(1)}
        interleave(fns, 2, x.device)
        times = interleave(fns, rounds, x.device)
    return dict(batch=int(x.shape[0]), views=cotta.n_augmentations, device=x.device.type, rounds=rounds,
                batched_ms=1000 * statistics.median(times["batched"]),
                one_at_a_time_ms=1000 * statistics.median(times["one view at a time"]),
                speedup=ratio_stats(times["one view at a time"], times["batched"]))


# -- report ------------------------------------------------------------------------------------------------------
def clean_error(config: str, options: dict) -> float:
    """Top-1 error (%) of the config's source backbone on its stream's base images, uncorrupted."""
    from visadapt.backbones.build import build_backbone
    from visadapt.tta.config import resolve_device
    from visadapt.tta.evaluation import top1_errors
    from visadapt.tta.stream import Stream

    cfg = load_tta_config(config, options)
    stream = Stream(to_plain(cfg.get("stream", {})))
    device = resolve_device(cfg.get("device", "auto"))
    model = build_backbone(to_plain(cfg.backbone), num_classes=stream.num_classes).to(device).eval()
    wrong, bs = 0, stream.spec.batch_size
    with torch.no_grad():
        for start in range(0, len(stream.indices), bs):
            items = [stream.base[int(i)] for i in stream.indices[start:start + bs]]
            images = torch.stack([image for image, _ in items]).to(device)
            wrong += int(top1_errors(model(images), torch.tensor([label for _, label in items])).sum())
    return 100.0 * wrong / len(stream.indices)


def table_title(cfg) -> str:
    backbone = to_plain(cfg.backbone)
    return f"{backbone.get('name')} ({backbone.get('pretrained') or 'random weights'})"


def markdown(table: dict, cotta: dict | None, command: str) -> str:
    rows, orders = table["rows"], table["orders"]
    domains = list(rows[0]["errors"])
    protocol = rows[0]["protocol"]
    head = ["method"] + domains + ["mean"] + [f"{o} mean" for o in orders] + ["images/s", "peak memory (MiB)"]
    lines = [
        f"**{table['title']}** — `{command}`",
        "",
        f"Top-1 error (%) per domain in stream order, online (each batch scored once, by the prediction the method "
        f"returns for it); mean = unweighted mean over domains. Stream: {len(domains)} domains, severities "
        f"{protocol['severities']}, {protocol['samples_per_domain']} images per domain, batch {protocol['batch_size']},"
        f" order {protocol['order']}, reset {protocol['reset']}, shuffle seed {protocol['shuffle_seed']}. "
        f"clean: the source model on the same images without corruption. "
        + (f"Columns '<order> mean': the mean error of the same config on a stream of that order "
           f"({table['order_options'] or 'same options'}). " if orders else "")
        + f"images/s: images over time spent in the method's forward (adaptation included). Peak memory: "
        f"{rows[0]['memory_measure']}. Methods ran one after another, each in a fresh process.",
        "",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
        "| clean | " + " | ".join(["–"] * len(domains)) + f" | {table['clean_error']:.2f} | "
        + "".join(f"{table['clean_error']:.2f} | " for _ in orders) + "| |",
    ]
    best = min(r["mean_error"] for r in rows)
    for r in rows:
        mean = f"{r['mean_error']:.2f}"
        cells = [r["name"]] + [f"{r['errors'][d]:.1f}" for d in domains]
        cells += [f"**{mean}**" if r["mean_error"] == best else mean]
        cells += [f"{r['orders'][o]:.2f}" for o in orders]
        cells += [f"{r['images_per_s']:.0f}", f"{r['peak_memory_bytes'] / 2**20:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if cotta:
        med, q1, q3 = cotta["speedup"]
        lines += ["", f"CoTTA's augmentation path ({cotta['views']} views of a batch of {cotta['batch']}, "
                      f"{cotta['device']}): batched {cotta['batched_ms']:.1f} ms vs one view at a time "
                      f"{cotta['one_at_a_time_ms']:.1f} ms per batch; one-at-a-time / batched = {med:.2f} "
                      f"({q1:.2f}–{q3:.2f}) over {cotta['rounds']} rounds."]
    return "\n".join(lines) + "\n"


def run_and_save(config: str, options: dict, progress: bool, run_dir: Path) -> dict[str, Any]:
    res = run_isolated(config, options, progress)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.json").write_text(json.dumps(res, indent=2))
    print(f"  {run_dir.name}: mean error {res['mean_error']:.2f} %, {res['images_per_s']:.0f} images/s", flush=True)
    return res


def run_table(title: str, configs: list[str], args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Every config of one protocol on its stream (and on the ``--orders`` streams), plus the clean row."""
    options = dict(args.cfg_options)
    rows = []
    for config in configs:
        name = Path(config).stem
        print(f"running {name} ...", flush=True)
        res = run_and_save(config, options, not args.no_progress, out / "runs" / name)
        res["orders"] = {
            order: run_and_save(config, {**options, **args.order_cfg_options, "stream.order": order},
                                not args.no_progress, out / "runs" / f"{name}@{order}")["mean_error"]
            for order in args.orders
        }
        rows.append(res | {"name": name})
    return dict(title=title, rows=rows, orders=list(args.orders), order_options=dict(args.order_cfg_options),
                clean_error=clean_error(configs[0], options))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = " ".join(["python tools/benchmark_tta.py", *(sys.argv[1:] if argv is None else argv)])
    out = Path(args.out_dir or ROOT / "work_dirs" / "benchmark_tta" / time.strftime("%Y%m%d_%H%M%S"))
    options = dict(args.cfg_options)
    try:
        cfgs = [load_tta_config(config, options) for config in args.configs]  # all must load before running
        groups: dict[str, tuple[str, list[str]]] = {}
        for config, cfg in zip(args.configs, cfgs):
            key = json.dumps([to_plain(cfg.get("stream", {})), to_plain(cfg.backbone)], sort_keys=True)
            groups.setdefault(key, (table_title(cfg), []))[1].append(config)
        tables = [run_table(title, configs, args, out) for title, configs in groups.values()]
        cotta_cfg = next((c for c, cfg in zip(args.configs, cfgs) if cfg.method.type == "cotta"), COTTA_DEFAULT)
        cotta = cotta_augmentation_ratio(cotta_cfg, options, args.cotta_rounds) if args.cotta_rounds > 0 else None
    except (ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    text = "\n".join(markdown(t, cotta if i == len(tables) - 1 else None, command) for i, t in enumerate(tables))
    (out / "table.md").write_text(text)
    with open(out / "errors.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["table", "method", "domain", "error"])
        for t in tables:
            writer.writerow([t["title"], "clean", "mean", f"{t['clean_error']:.4f}"])
            for r in t["rows"]:
                writer.writerows([t["title"], r["name"], d, f"{e:.4f}"] for d, e in r["errors"].items())
                writer.writerow([t["title"], r["name"], "mean", f"{r['mean_error']:.4f}"])
                writer.writerows([t["title"], r["name"], f"{o} mean", f"{e:.4f}"] for o, e in r["orders"].items())
    keys = ("mean_error", "orders", "images_per_s", "peak_memory_bytes", "memory_measure", "num_images", "method")
    summary = {
        "methods": {r["name"]: {k: r[k] for k in keys} for t in tables for r in t["rows"]},
        "tables": [{"title": t["title"], "clean_error": t["clean_error"], "methods": [r["name"] for r in t["rows"]]}
                   for t in tables],
        "cotta_augmentation": cotta,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print("\n" + text)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
