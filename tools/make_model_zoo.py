"""Reproduce a model-zoo entry: train its config, then write the backbone to ``model_zoo/NAME.safetensors`` (a timm
backbone) or ``model_zoo/NAME/`` (a CLIP, in open_clip's local-dir layout).

``python tools/make_model_zoo.py configs/pretrain/vit_tiny_shapes_pretrain.py --name vit_tiny_shapes``
The file is a plain timm state dict whose safetensors metadata records the architecture, the command, the
seed and the final metrics (see model_zoo/README.md).

``--adapter-only`` keeps the adapters separate (for methods that use them as such, e.g. ViDA's warmed-up
adapters): the run's adapter export is copied to ``model_zoo/NAME/`` with a ``provenance.json`` (command, config,
seed, metrics) beside it.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visadapt.cli import USER_ERRORS, ArgumentParser, fail  # noqa: E402
from visadapt.config import load_config, to_plain  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--name", required=True, help="model-zoo entry name")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--adapter-only", action="store_true",
                        help="copy the adapter export to model_zoo/NAME/ instead of merging it into a checkpoint")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)  # before importing Lightning: a bad config is reported at once
        from visadapt.runner import train

        results = train(cfg, Path(args.work_dir or Path("work_dirs") / Path(args.config).stem))
    except USER_ERRORS as err:
        return fail(err)
    from visadapt.adapters import load_adapter, read_adapter_config
    from visadapt.backbones import model_zoo_dir
    from visadapt.backbones.build import build_backbone

    run_dir = Path(results["run_dir"])
    command = f"python tools/make_model_zoo.py {args.config} --name {args.name}"
    if args.adapter_only:
        out = model_zoo_dir() / args.name
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(run_dir / "adapter", out)
        provenance = dict(command=command + " --adapter-only", config=to_plain(cfg.to_dict()), seed=results["seed"],
                          metrics=results["metrics"], parameters=results["parameters"])
        (out / "provenance.json").write_text(json.dumps(provenance, indent=2))
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
        print(f"wrote {out}/ ({size:.2f} MiB)")
        return 0
    backbone = build_backbone(to_plain(cfg.backbone), num_classes=int(read_adapter_config(run_dir / "adapter")["num_classes"]))
    load_adapter(backbone.adapted_model, run_dir / "adapter")
    out = backbone.save_pretrained(
        model_zoo_dir() / f"{args.name}{backbone.zoo_suffix}",
        config=to_plain(cfg.to_dict()),
        command=command,
        seed=results["seed"],
        metrics=results["metrics"],
        parameters=results["parameters"]["total"],
    )
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) if out.is_dir() else out.stat().st_size
    print(f"wrote {out} ({size / 2**20:.2f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
