"""List every unreadable image of a config's datasets: ``python tools/check_data.py CONFIG [--cfg-options ...]``.

Decodes each file of ``data.train``, ``data.val`` and ``data.test`` once and prints one line per unreadable file
(truncated JPEG, empty PNG, not an image); exit code 1 when there is any. To train anyway, set
``data.skip_corrupt=True``; ``data.verify=True`` makes training refuse such data up front.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visadapt.cli import USER_ERRORS, ArgumentParser, ConfigOptions, fail  # noqa: E402
from visadapt.config import load_config  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions, default={})
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.cfg_options)
        from visadapt.data.verify import unreadable_items
        from visadapt.runner.build import build_datamodule

        datamodule = build_datamodule(cfg)
        found = 0
        for name, dataset in datamodule.splits().items():
            bad = unreadable_items(dataset, desc=f"data.{name}")
            found += len(bad)
            print(f"data.{name}: {dataset.num_items} items, " + (f"{len(bad)} unreadable" if bad else "all readable"))
            for message in bad.values():
                print(f"  {message}")
    except USER_ERRORS as err:
        return fail(err)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
