"""Fold a mergeable adapter into its backbone and write a plain upstream checkpoint.

``python tools/merge_adapter.py ADAPTER_DIR --out merged.safetensors``. The backbone is rebuilt from the
description stored in the adapter export; the output loads with no visadapt code, e.g.
``timm.create_model(name, pretrained=True, num_classes=K, pretrained_cfg_overlay=dict(file=out, num_classes=K),
**model_kwargs)`` or ``model.load_state_dict(safetensors.torch.load_file(out))``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visadapt.cli import USER_ERRORS, ArgumentParser, fail  # noqa: E402
from visadapt.registry import ConfigError  # noqa: E402


def merge_to_file(adapter_dir: Path, out: Path) -> Path:
    from visadapt.adapters import load_adapter, merge, read_adapter_config
    from visadapt.backbones.build import build_backbone
    from visadapt.runner.build import build_task  # noqa: F401  (registers everything)

    meta = read_adapter_config(adapter_dir)
    if "backbone" not in meta:
        raise ConfigError(f"{adapter_dir}: adapter_config.json has no 'backbone' entry to rebuild the base model from")
    backbone = build_backbone(meta["backbone"], num_classes=meta.get("num_classes", 0))
    load_adapter(backbone.adapted_model, adapter_dir)
    merge(backbone.adapted_model, strict=True)
    return backbone.save_pretrained(out)


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("adapter_dir", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="output .safetensors file")
    args = parser.parse_args(argv)
    try:
        if not args.adapter_dir.is_dir():  # before the imports: a wrong path is reported at once
            raise FileNotFoundError(f"adapter directory not found: {args.adapter_dir}")
        if args.out.suffix != ".safetensors":
            raise ConfigError(f"--out {args.out}: expected a .safetensors file name")
        path = merge_to_file(args.adapter_dir, args.out)
    except (*USER_ERRORS, TypeError) as err:
        return fail(err)
    print(f"merged model written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
