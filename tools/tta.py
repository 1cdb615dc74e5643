"""Run one test-time adaptation method over a corruption stream:
``python tools/tta.py CONFIG [--cfg-options key=value ...] [--work-dir DIR] [--resume [auto|RUN_DIR]]``.

Writes ``<work dir>/<timestamp>/``: ``config.py`` (resolved) first; after every domain ``results.json``
(``"complete": false`` until the stream ends) and ``errors.csv`` with the domains measured so far, and
``progress.pt`` (the counts and the method's state at that domain's end: what ``--resume`` continues, so a killed
run keeps what it measured); at the end ``results.json`` (per-domain errors, mean, the stream protocol, the method
config, seed, images/s), ``errors.csv``, ``errors.png`` (error over the stream, coloured by domain) and the
per-domain error table. Every file is replaced atomically.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from visadapt import atomic  # noqa: E402
from visadapt.cli import USER_ERRORS, ArgumentParser, ConfigOptions, fail  # noqa: E402
from visadapt.registry import ConfigError  # noqa: E402

PROGRESS = "progress.pt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="TTA config file (configs/tta/...py)")
    parser.add_argument("--work-dir", help="root of the runs of this config (default: work_dirs/<config name>)")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions, default={},
                        help="override config values: key=value (e.g. stream.samples_per_domain=100 method.steps=2)")
    parser.add_argument("--resume", nargs="?", const="auto", metavar="auto|RUN_DIR",
                        help="continue an unfinished run after its last finished domain (default: the newest one)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def errors_figure(results: dict):
    """The per-batch error over the stream, coloured by domain, with the legend below the axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5))
    seen_at, colours = 0, {}
    cmap = plt.get_cmap("tab20")
    for batch in results["batches"]:
        name = batch["domain"]
        label = None if name in colours else name
        colour = colours.setdefault(name, cmap(len(colours) % 20))
        ax.bar(seen_at + batch["size"] / 2, batch["error"], width=batch["size"], color=colour, label=label)
        seen_at += batch["size"]
    ax.axhline(results["mean_error"], color="k", ls="--", lw=1, label=f"mean {results['mean_error']:.1f}%")
    ax.set_xlabel("images seen")
    ax.set_ylabel("top-1 error of the batch (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(0, seen_at)
    ax.set_title(f"{results['method']['type']}: error over the stream")
    # The legend goes below the axes, where it cannot cover the bars.
    ax.legend(fontsize=7, ncol=min(8, len(colours) + 1), loc="upper center", bbox_to_anchor=(0.5, -0.16),
              frameon=False)
    return fig


def plot_errors(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = errors_figure(results)
    with atomic.replacing(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def write_results(run: Path, results: dict) -> None:
    """``results.json`` and ``errors.csv`` (the domains measured so far), each replaced atomically."""
    atomic.write_text(run / "results.json", json.dumps(results, indent=2))
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["domain", "error"])
    for domain, err in results["errors"].items():
        writer.writerow([domain, f"{err:.4f}"])
    writer.writerow(["mean", f"{results['mean_error']:.4f}"])
    atomic.write_text(run / "errors.csv", table.getvalue())


def unfinished_run(work_root: Path, resume: str) -> Path | None:
    """The run ``--resume`` continues: the given run directory, or the newest unfinished one under ``work_root``."""
    if resume != "auto":
        run = Path(resume)
        if not (run / PROGRESS).is_file():
            raise FileNotFoundError(f"--resume {run}: no {PROGRESS} there (not an unfinished tools/tta.py run)")
        return run
    runs = sorted(work_root.glob(f"*/{PROGRESS}"), key=lambda p: p.stat().st_mtime)
    if not runs:
        print(f"--resume: no unfinished run under {work_root}; starting a new run")
    return runs[-1].parent if runs else None


def run_with_progress(cfg, run: Path, method, stream, resumed: bool, show_progress: bool) -> dict:
    """Run the stream, continuing from ``progress.pt`` when resuming, and write the results after every domain."""
    from visadapt.backbones.weights import load_torch_file
    from visadapt.tta.config import results_of
    from visadapt.tta.evaluation import RESUMABLE_METHODS, load_method_state, method_state, run_stream

    keeps_state = cfg.method.type in RESUMABLE_METHODS
    start = None
    if resumed:
        saved = load_torch_file(run / PROGRESS)
        start = saved["tally"]
        if saved["method"] is not None:
            load_method_state(method, saved["method"])
        elif stream.spec.reset not in ("domain", "episodic"):
            print(f"--resume: the state of method '{cfg.method.type}' cannot be saved, so it starts again from the "
                  f"source model after the last finished domain '{start['previous']}'", flush=True)

    def save_progress(tally) -> None:
        atomic.torch_save({"tally": tally.state(), "method": method_state(method) if keeps_state else None},
                          run / PROGRESS)
        write_results(run, {"config": str(cfg.filename), "complete": False,
                            **results_of(cfg, stream, tally.result())})

    out = run_stream(method, stream, progress=show_progress, start=start, on_domain_end=save_progress)
    return {"config": str(cfg.filename), "complete": True, **results_of(cfg, stream, out)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from visadapt.runner.workdir import new_run_dir, outermost_new, removed_on_error
        from visadapt.tta.config import build_from_config, load_tta_config

        cfg = load_tta_config(args.config, dict(args.cfg_options))
        work_root = Path(args.work_dir or Path("work_dirs") / Path(args.config).stem)
        run = unfinished_run(work_root, args.resume) if args.resume else None
        resumed = run is not None
        if resumed and (run / "config.py").read_text() != cfg.pretty_text:
            raise ConfigError(f"--resume {run}: its config.py differs from {args.config} with these options; "
                              "resume with the same config and --cfg-options")
        new_root = outermost_new(work_root)
        run = run or new_run_dir(work_root)  # at once: an unusable --work-dir fails before the stream runs
        with removed_on_error(None if resumed else new_root or run):  # a bad value in the config leaves no run
            atomic.write_text(run / "config.py", cfg.pretty_text)
            method, stream = build_from_config(cfg)
        results = run_with_progress(cfg, run, method, stream, resumed, show_progress=not args.no_progress)
    except USER_ERRORS as err:
        return fail(err)
    write_results(run, results)
    plot_errors(results, run / "errors.png")
    (run / PROGRESS).unlink(missing_ok=True)
    protocol = results["protocol"]
    title = (f"{results['method']['type']} on {len(results['errors'])} domains, order {protocol['order']}, "
             f"reset {protocol['reset']}: top-1 error (%)")
    from visadapt.tta.evaluation import format_table

    print(format_table(results["errors"], results["mean_error"], title))
    print(f"{results['num_images']} images, {results['images_per_s']:.1f} images/s (adaptation), "
          f"{results['wall_seconds']:.1f} s wall; results in {run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
