"""Generate images from a text-to-image model, optionally with trained subjects:
``python tools/generate.py CONFIG_OR_MODEL --prompt "zwx, a star on a light background" [--lora DIR ...]
[--lora-scale S ...] [--seed N --num N --steps N --guidance G --size N --negative-prompt TEXT] --out DIR``.

CONFIG_OR_MODEL: a run directory (its config's model and its adapter export), a config file, a diffusers folder or
a model-zoo name (``sd_tiny_shapes``). ``--lora`` takes a run directory or an adapter export; several subjects are
loaded at once with diffusers' ``set_adapters`` when their exports carry ``pytorch_lora_weights.safetensors``
(LoRA); any other adapter is loaded with visadapt's adapter API (one, at scale 1). Image k is drawn from seed
``--seed + k``, so a run is reproducible image by image. Writes one PNG per image, ``grid.png`` and
``generation.json`` (everything needed to redo it).

Video (a run of ``VideoTuningTask``, e.g. ``configs/simda/``): ``--video`` edits the run's training clip, or
``--source`` (a folder of frames, a GIF or a video file), by DDIM inversion and sampling with ``--prompt``;
``--from-noise`` samples text-to-video from seeded noise instead (``--frames`` frames; clip k from seed
``--seed + k``). Writes ``video.gif``, ``video.mp4``, ``video.png`` (a strip; ``video_k.*`` for several clips),
``source.png`` for an edit, and ``generation.json``.
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
    parser.add_argument("--num", type=int, default=None, help="number of images (default 4) or --from-noise clips (1)")
    parser.add_argument("--steps", type=int, default=25, help="DDIM steps")
    parser.add_argument("--guidance", type=float, default=None,
                        help="classifier-free guidance scale (default 5.0; with --video the run's task.guidance_scale)")
    parser.add_argument("--height", type=int, default=None, help="image height (default: the model's resolution)")
    parser.add_argument("--width", type=int, default=None, help="image width (default: the model's resolution)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    video = parser.add_argument_group("video")
    video.add_argument("--video", action="store_true", help="edit (or sample) a clip with a video-tuned run")
    video.add_argument("--source", type=Path, default=None,
                       help="clip to edit: frames folder, GIF or video file (default: the run's training clip)")
    video.add_argument("--from-noise", action="store_true", help="text-to-video from seeded noise, no source clip")
    video.add_argument("--frames", type=int, default=None,
                       help="frames to sample (default: as many as the training clip has)")
    video.add_argument("--fps", type=float, default=8.0, help="frame rate of the written GIF / MP4")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    args.num = args.num if args.num is not None else (1 if args.video else 4)
    if args.num < 1:
        parser.error(f"--num must be >= 1, got {args.num}")
    if not args.video and (args.source or args.from_noise or args.frames):
        parser.error("--source, --from-noise and --frames need --video")
    if args.video and args.num > 1 and not args.from_noise:
        parser.error("an edit is deterministic (DDIM inversion and sampling): --num > 1 needs --from-noise")
    if args.video and (args.lora or args.lora_scale):
        parser.error("--video takes its adapters from the run (CONFIG_OR_MODEL); --lora is for images")
    if args.frames is not None and args.frames < 1:
        parser.error(f"--frames must be >= 1, got {args.frames}")
    if args.lora_scale and len(args.lora_scale) != len(args.lora):
        parser.error(f"give one --lora-scale per --lora ({len(args.lora)} --lora, {len(args.lora_scale)} scales)")
    return args


def load_config_of(model: str):
    """The config of a run directory or a config file (None for a diffusers folder / zoo name)."""
    from visadapt.config import load_config

    path = Path(model)
    if path.is_dir() and (path / "config.py").is_file() and not (path / "model_index.json").is_file():
        return load_config(path / "config.py")
    return load_config(path) if path.suffix == ".py" else None


def build_backbone(model: str):
    """(DiffusionBackbone, the run's adapter export or None) for a run directory, config, folder or zoo name."""
    from visadapt.backbones import DiffusionBackbone
    from visadapt.backbones.build import build_backbone as from_spec
    from visadapt.config import to_plain
    from visadapt.generation.subjects import adapter_dir

    cfg = load_config_of(model)
    if cfg is None:
        return DiffusionBackbone(pretrained=model), None
    run = Path(model).is_dir()
    return from_spec(to_plain(cfg.backbone)), adapter_dir(model) if run else None


def source_clip(args: argparse.Namespace, cfg, size: int):
    """(frames (F, 3, H, W) in [0, 1], caption) to edit: ``--source``, else the config's training clip."""
    import torch

    from visadapt.config import to_plain
    from visadapt.data.video_base import frames_to_tensor
    from visadapt.data.video_io import read_video, resize_frames, sample_frames
    from visadapt.registry import DATASETS

    if args.source is not None:
        frames = read_video(args.source)
        frames = sample_frames(frames, args.frames or min(len(frames), 8))
        return frames_to_tensor(resize_frames(frames, size)), ""
    if cfg is None or "train" not in cfg.get("data", {}):
        raise ConfigError(f"{args.model}: no training clip to edit (not a run or config with data.train); give "
                          "--source PATH or --from-noise")
    clip, caption = DATASETS.build(to_plain(cfg.data.train))[0]
    if args.frames is not None and args.frames != len(clip):
        raise ConfigError(f"--frames {args.frames}: the training clip has {len(clip)} frames; to edit another length "
                          "pass --source")
    return torch.as_tensor(clip), caption


def generate_video(args: argparse.Namespace) -> str:
    """Edit a clip or sample clips from noise with a video-tuned run; returns a summary line."""
    from visadapt.adapters import load_adapter
    from visadapt.data.video_base import tensor_to_frames
    from visadapt.data.video_io import write_clip, write_frame_strip
    from visadapt.generation.video import edit, noise_latents, sample

    backbone, run_adapter = build_backbone(args.model)
    if run_adapter is not None:
        load_adapter(backbone.adapted_model, run_adapter)
    cfg = load_config_of(args.model)
    if args.guidance is None:  # what the run's own test edits used
        args.guidance = float(cfg.get("task", {}).get("guidance_scale", 7.5)) if cfg is not None else 7.5
    record = dict(model=args.model, prompt=args.prompt, negative_prompt=args.negative_prompt, steps=args.steps,
                  guidance=args.guidance, adapter=str(run_adapter) if run_adapter else None, fps=args.fps)
    clips, names = [], []
    if args.from_noise:
        frames = args.frames or (len(source_clip(args, cfg, backbone.resolution)[0]) if cfg is not None else 8)
        seeds = [args.seed + k for k in range(args.num)]
        for seed in seeds:
            start = noise_latents(backbone, frames, seed, args.height, args.width)
            clips.append(sample(backbone, args.prompt, start, args.steps, args.guidance, args.negative_prompt))
        names = ["video"] if len(seeds) == 1 else [f"video_{k}" for k in range(len(seeds))]
        record.update(mode="text-to-video", seeds=seeds, frames=frames)
    else:
        source, caption = source_clip(args, cfg, backbone.resolution)
        clips.append(edit(backbone, source, args.prompt, args.steps, args.guidance, args.negative_prompt))
        names = ["video"]
        write_frame_strip(tensor_to_frames(source), args.out / "source.png")
        record.update(mode="edit", source=str(args.source) if args.source else "the run's training clip",
                      source_caption=caption, frames=len(source))
    for name, clip in zip(names, clips):
        write_clip(tensor_to_frames(clip), args.out, name, fps=args.fps)
    (args.out / "generation.json").write_text(json.dumps(record, indent=2))
    return f"{len(clips)} clip(s) of {len(clips[0])} frames ({record['mode']}) in {args.out}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.video:
        from visadapt.adapters import AdapterLoadError
        from visadapt.data.video_io import UnreadableVideoError

        try:
            args.out.mkdir(parents=True, exist_ok=True)
            print(generate_video(args))
        except (ConfigError, FileNotFoundError, AdapterLoadError, UnreadableVideoError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0
    args.guidance = 5.0 if args.guidance is None else args.guidance
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
                  steps=args.steps, guidance=args.guidance, height=int(images[0].shape[0]),
                  width=int(images[0].shape[1]),
                  loras=[str(d) for d in loras], lora_scales=scales)
    (args.out / "generation.json").write_text(json.dumps(record, indent=2))
    print(f"{len(images)} images ({images[0].shape[0]}x{images[0].shape[1]}, seeds {seeds[0]}-{seeds[-1]}) and "
          f"grid.png in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
