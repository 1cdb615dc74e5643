"""Evaluate a trained model on the config's test split: ``python tools/test.py CONFIG CHECKPOINT_OR_ADAPTER_DIR``.

Segmentation configs also write overlay PNGs (image | ground truth | prediction) of the first ``--overlays N``
test images to ``--out-dir`` (default: ``overlays/`` in the weights' run directory)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visadapt.cli import USER_ERRORS, ArgumentParser, ConfigOptions, fail  # noqa: E402
from visadapt.config import load_config  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("config")
    parser.add_argument("weights", help="a Lightning checkpoint (.ckpt), its tensors as .safetensors, or an adapter "
                                        "export directory")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions, default={})
    parser.add_argument("--overlays", type=int, default=8, metavar="N",
                        help="segmentation: overlay PNGs of the first N test images (0: none)")
    parser.add_argument("--out-dir", default=None, help="where the overlays go")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.cfg_options)  # before importing Lightning
        if not Path(args.weights).exists():
            raise FileNotFoundError(f"no checkpoint file or adapter directory at {args.weights}")
        from visadapt.runner import evaluate

        evaluate(cfg, args.weights, args.overlays, args.out_dir)
    except USER_ERRORS as err:
        return fail(err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
