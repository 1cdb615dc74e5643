"""Generate images from a text-to-image model, optionally with trained subjects:
``python tools/generate.py CONFIG_OR_MODEL --prompt "zwx, a star on a light background" [--lora DIR ...]
[--lora-scale S ...] [--seed N --num N --steps N --guidance G --size N --negative-prompt TEXT] --out DIR``.

CONFIG_OR_MODEL: a run directory (its config's model and its adapter export), a config file, a diffusers folder or
a model-zoo name (``sd_tiny_shapes``). ``--lora`` takes a run directory or an adapter export; several subjects are
loaded at once with diffusers' ``set_adapters`` when their exports carry ``pytorch_lora_weights.safetensors``
(LoRA); any other adapter is loaded with visadapt's adapter API (one, at scale 1). Image k is drawn from seed
``--seed + k``, so a run is reproducible image by image. Writes one PNG per image, ``grid.png`` and
``generation.json`` (everything needed to redo it).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from visadapt.registry import ConfigError  # noqa: E402

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="run directory, config file, diffusers folder or model-zoo name")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--negative-prompt", default=None)
    parser.add_argument("--lora", action="append", default=[], help="adapter export or run directory (repeatable)")
    parser.add_argument("--lora-scale", action="append", type=float, default=[],
                        help="strength of each --lora (default 1.0; 0 gives the base model)")
    parser.add_argument("--seed", type=int, default=0, help="image k uses seed + k")
    parser.add_argument("--num", type=int, default=4, help="number of images")
    parser.add_argument("--steps", type=int, default=25, help="DDIM steps")
    parser.add_argument("--guidance", type=float, default=5.0, help="classifier-free guidance scale")
    parser.add_argument("--height", type=int, default=None, help="image height (default: the model's resolution)")
    parser.add_argument("--width", type=int, default=None, help="image width (default: the model's resolution)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    if args.num < 1:
        parser.error(f"--num must be >= 1, got {args.num}")
    if args.lora_scale and len(args.lora_scale) != len(args.lora):
        parser.error(f"give one --lora-scale per --lora ({len(args.lora)} --lora, {len(args.lora_scale)} scales)")
    return args


def build_backbone(model: str):
    """(DiffusionBackbone, the run's adapter export or None) for a run directory, config, folder or zoo name."""
    from visadapt.backbones import DiffusionBackbone
    from visadapt.backbones.build import build_backbone as from_spec
    from visadapt.config import load_config, to_plain
    from visadapt.generation.subjects import adapter_dir

    path = Path(model)
    if path.is_dir() and (path / "config.py").is_file() and not (path / "model_index.json").is_file():
        cfg = load_config(path / "config.py")
        return from_spec(to_plain(cfg.backbone)), adapter_dir(path)
    if path.suffix == ".py":
        return from_spec(to_plain(load_config(path).backbone)), None
    return DiffusionBackbone(pretrained=model), None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from PIL import Image

        from visadapt.adapters import AdapterLoadError
        from visadapt.generation.sampling import generate, grid
        from visadapt.generation.subjects import adapter_dir, pipeline_with_subjects

        backbone, run_adapter = build_backbone(args.model)
        loras = [adapter_dir(p) for p in args.lora] or ([run_adapter] if run_adapter else [])
        scales = args.lora_scale or [1.0] * len(loras)
        pipe = pipeline_with_subjects(backbone, loras, scales)
        args.out.mkdir(parents=True, exist_ok=True)
        seeds = [args.seed + k for k in range(args.num)]
        images = generate(backbone, [args.prompt] * args.num, seeds, steps=args.steps, guidance_scale=args.guidance,
                          negative_prompt=args.negative_prompt, height=args.height, width=args.width, pipe=pipe)
    except (ConfigError, FileNotFoundError, AdapterLoadError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for seed, image in zip(seeds, images):
        Image.fromarray(image).save(args.out / f"seed{seed:06d}.png")
    Image.fromarray(grid(images)).save(args.out / "grid.png")
    record = dict(model=args.model, prompt=args.prompt, negative_prompt=args.negative_prompt, seeds=seeds,
                  steps=args.steps, guidance=args.guidance, height=int(images[0].shape[0]), width=int(images[0].shape[1]),
                  loras=[str(d) for d in loras], lora_scales=scales)
    (args.out / "generation.json").write_text(json.dumps(record, indent=2))
    print(f"{len(images)} images ({images[0].shape[0]}x{images[0].shape[1]}, seeds {seeds[0]}-{seeds[-1]}) and "
          f"grid.png in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
