"""Run one test-time adaptation method over a corruption stream:
``python tools/tta.py CONFIG [--cfg-options key=value ...] [--work-dir DIR]``.

Writes ``<work dir>/<timestamp>/``: ``config.py`` (resolved), ``results.json`` (per-domain errors, mean, the
stream protocol, the method config, seed, images/s), ``errors.csv``, ``errors.png`` (error over the stream,
coloured by domain) and prints the per-domain error table.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from mmengine.config import DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from visadapt.registry import ConfigError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="TTA config file (configs/tta/...py)")
    parser.add_argument("--work-dir", help="root of the runs of this config (default: work_dirs/<config name>)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                        help="override config values: key=value (e.g. stream.samples_per_domain=100 method.steps=2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def plot_errors(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
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
    ax.set_title(f"{results['method']['type']}: error over the stream")
    ax.legend(fontsize=6, ncol=4, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(run: Path, cfg, results: dict) -> None:
    cfg.dump(str(run / "config.py"))
    (run / "results.json").write_text(json.dumps(results, indent=2))
    with open(run / "errors.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["domain", "error"])
        for domain, err in results["errors"].items():
            writer.writerow([domain, f"{err:.4f}"])
        writer.writerow(["mean", f"{results['mean_error']:.4f}"])
    plot_errors(results, run / "errors.png")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from visadapt.runner.workdir import new_run_dir
        from visadapt.tta.config import load_tta_config, run_config
        from visadapt.tta.evaluation import format_table

        cfg = load_tta_config(args.config, dict(args.cfg_options))
        work_root = Path(args.work_dir or Path("work_dirs") / Path(args.config).stem)
        results = {"config": str(args.config), **run_config(cfg, progress=not args.no_progress)}
        run = new_run_dir(work_root)
    except (ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    write_outputs(run, cfg, results)
    protocol = results["protocol"]
    title = (f"{results['method']['type']} on {len(results['errors'])} domains, order {protocol['order']}, "
             f"reset {protocol['reset']}: top-1 error (%)")
    print(format_table(results["errors"], results["mean_error"], title))
    print(f"{results['num_images']} images, {results['images_per_s']:.1f} images/s (adaptation), "
          f"{results['wall_seconds']:.1f} s wall; results in {run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
