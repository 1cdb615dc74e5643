"""Train, validate and test one config: ``python tools/train.py CONFIG [--work-dir DIR] [--resume auto|PATH]``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from visadapt.cli import USER_ERRORS, ArgumentParser, ConfigOptions, fail  # noqa: E402
from visadapt.config import load_config  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("config", help="config file (configs/...py)")
    parser.add_argument("--work-dir", help="root of the runs of this config (default: work_dirs/<config name>)")
    parser.add_argument("--resume", help="'auto' (the newest run under the work dir) or a checkpoint path")
    parser.add_argument("--seed", type=int, help="overrides the config's seed")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions, default={},
                        help="override config values: key=value (e.g. trainer.max_epochs=2 optimizer.lr=1e-3)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = dict(args.cfg_options)
    if args.seed is not None:
        options["seed"] = args.seed
    try:
        cfg = load_config(args.config, options)  # before importing Lightning: a bad config is reported at once
        if args.resume not in (None, "auto") and not Path(args.resume).is_file():
            raise FileNotFoundError(f"--resume: checkpoint not found: {args.resume}")
        from visadapt.runner import train

        work_root = Path(args.work_dir or Path("work_dirs") / Path(args.config).stem)
        train(cfg, work_root, resume=args.resume)
    except USER_ERRORS as err:
        return fail(err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
