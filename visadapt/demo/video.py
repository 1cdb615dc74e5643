"""What the demo's Video tab runs: one-shot tuning of a video config (SimDA or Tune-A-Video) on the offline clip
or an uploaded one, and edits of a tuned run's clip. Runs are ordinary run directories under ``runs_root/video``,
so ``tools/generate.py RUN --video`` edits them too; an uploaded clip is kept beside them (``runs_root/uploads``)
for the run's config to point at."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from visadapt.demo.runs import Report, launch, run_name
from visadapt.registry import ConfigError

VIDEO_METHODS = {
    "SimDA": "simda/simda_sd_tiny_shapes_oneshot.py",
    "Tune-A-Video": "simda/tuneavideo_sd_tiny_shapes_oneshot.py",
}
MIN_FRAMES = 2  # one frame is a still image: the temporal layers would have nothing to learn


def check_upload(path: str | Path, num_frames: int) -> None:
    """Refuse an upload that cannot be read, or that has fewer than ``num_frames`` frames, naming the file."""
    from visadapt.data.video_io import read_video

    frames = read_video(path)  # its errors name the file and what was expected
    if len(frames) < num_frames:
        raise ConfigError(f"'{Path(path).name}' has {len(frames)} frame(s), fewer than the {num_frames} asked for; "
                          "lower 'frames' or upload a longer clip")


def tune_video(upload: str | Path | None, caption: str, method: str, num_frames: int, steps: int, base: str,
               resolution: int, runs_root: Path, report: Report = lambda f, m: None) -> Path:
    """Tune ``method`` on a clip; returns its run directory under ``runs_root/video``. ``upload``: a video file or
    GIF with its ``caption``, or None for the offline example clip (a red circle moving left to
    right on a dark background). Each step is one pass over the clip."""
    if method not in VIDEO_METHODS:
        raise ConfigError(f"method must be one of {', '.join(VIDEO_METHODS)}, got {method!r}")
    if int(num_frames) < MIN_FRAMES:
        raise ConfigError(f"frames must be >= {MIN_FRAMES} (a clip, not a still), got {num_frames}")
    if int(steps) < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    num_frames, steps = int(num_frames), int(steps)
    name = run_name(method.lower().replace("-", "_"))
    options = {"backbone.pretrained": base, "data.test": None, "trainer.max_epochs": 1}
    if upload is None:
        options.update({"data.train.num_frames": num_frames, "data.train.image_size": resolution,
                        "data.train.repeats": steps})
    else:
        caption = caption.strip()
        if not caption:
            raise ConfigError("the clip's caption is empty: describe the uploaded clip (e.g. 'a man skiing')")
        check_upload(upload, num_frames)
        kept = runs_root / "uploads" / name / f"clip{Path(upload).suffix.lower()}"
        kept.parent.mkdir(parents=True)
        shutil.copy(upload, kept)
        options["data.train"] = dict(_delete_=True, type="VideoFileDataset", path=str(kept), caption=caption,
                                     num_frames=num_frames, image_size=resolution, repeats=steps)
    return launch(VIDEO_METHODS[method], options, runs_root / "video" / name, report)


def tuned_videos(runs_root: Path) -> dict[str, Path]:
    """Display name -> run directory of every finished video run of the demo (newest first)."""
    exports = sorted((runs_root / "video").glob("*/*/adapter/adapter_config.json"),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    return {p.parent.parent.parent.name: p.parent.parent for p in exports}


def edit_video(run_dir: Path, prompt: str, negative_prompt: str, steps: int, guidance: float,
               fps: float = 8) -> tuple[dict[str, Path], Path]:
    """The run's training clip re-rendered for ``prompt`` (DDIM inversion, then sampling), written under
    ``run_dir/edits``: (the edit's GIF / MP4 / strip paths, the source clip's strip)."""
    import torch

    from visadapt.adapters import load_adapter
    from visadapt.backbones.build import build_backbone
    from visadapt.config import load_config, to_plain
    from visadapt.data.video_base import tensor_to_frames
    from visadapt.data.video_io import write_clip, write_frame_strip
    from visadapt.generation.subjects import adapter_dir
    from visadapt.generation.video import edit
    from visadapt.registry import DATASETS

    if not prompt.strip():
        raise ConfigError("the edit prompt is empty: say what the clip should show (e.g. 'a blue circle moving left "
                          "to right on a dark background')")
    cfg = load_config(run_dir / "config.py")
    backbone = build_backbone(to_plain(cfg.backbone))
    load_adapter(backbone.adapted_model, adapter_dir(run_dir))
    clip, caption = DATASETS.build(to_plain(cfg.data.train))[0]
    result = edit(backbone, torch.as_tensor(clip), prompt, int(steps), float(guidance), negative_prompt or None)
    (run_dir / "edits").mkdir(exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=run_name("edit") + "_", dir=run_dir / "edits"))
    paths = write_clip(tensor_to_frames(result), out, "video", fps)
    write_frame_strip(tensor_to_frames(torch.as_tensor(clip)), out / "source.png")
    record = dict(model=str(run_dir), mode="edit", prompt=prompt, negative_prompt=negative_prompt or None,
                  steps=int(steps), guidance=float(guidance), source_caption=caption, frames=len(clip), fps=fps)
    (out / "generation.json").write_text(json.dumps(record, indent=2))
    return paths, out / "source.png"
