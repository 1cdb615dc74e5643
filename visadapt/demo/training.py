"""What the demo's Train tab runs: one of the dreambooth configs, on the uploaded photos or the offline example
subject, through the same runner as ``tools/train.py`` (so the result is an ordinary run directory)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

from visadapt.demo.runs import Report, launch, run_name
from visadapt.registry import ConfigError

METHODS = {
    "LoRA": "lora_sd_tiny_shapes_subject.py",
    "LoRA + CAT": "lora_cat_sd_tiny_shapes_subject.py",
    "LoRA + DreamBooth prior preservation": "lora_prior_sd_tiny_shapes_subject.py",
}


def personalize(images: Sequence[str | Path] | None, trigger: str, noun: str, method: str, steps: int, base: str,
                resolution: int, runs_root: Path, report: Report = lambda f, m: None) -> Path:
    """Train a subject; returns its run directory under ``runs_root``. ``images``: the user's photos (3-10), or None
    for the offline example subject (a pink star with rings)."""
    trigger, noun = trigger.strip(), noun.strip()
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not trigger or " " in trigger:
        raise ConfigError(f"the trigger must be one word, got {trigger!r}")
    if not noun:
        raise ConfigError("the class noun is empty (e.g. 'dog', 'star')")
    if int(steps) < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    name = run_name(trigger)
    options = {"backbone.pretrained": base, "task.trigger": trigger, "trainer.max_steps": int(steps),
               "trainer.max_epochs": -1, "data.val": None, "data.test.seeds_per_prompt": 1,
               "data.test.trigger": trigger, "data.test.noun": noun}
    if method == "LoRA + DreamBooth prior preservation":
        options["task.class_prompt"] = f"a {noun}"
    if images is not None:
        if not 3 <= len(images) <= 10:
            raise ConfigError(f"upload 3 to 10 images of the subject, got {len(images)}")
        folder = runs_root / "uploads" / name
        folder.mkdir(parents=True)
        for k, path in enumerate(images):
            shutil.copy(path, folder / f"{k:02d}{Path(path).suffix.lower()}")
        options["data.train"] = dict(_delete_=True, type="SubjectFolderDataset", root=str(folder), trigger=trigger,
                                     noun=noun, image_size=resolution, template="{trigger}, a {noun}")
    else:
        options.update({"data.train.trigger": trigger, "data.train.shape": noun, "data.train.image_size": resolution})
    return launch(f"dreambooth/{METHODS[method]}", options, runs_root / name, report)


def trained_subjects(runs_root: Path) -> dict[str, Path]:
    """Display name -> adapter export of every finished demo run (newest first)."""
    exports = sorted(runs_root.glob("*/*/adapter/pytorch_lora_weights.safetensors"),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    return {p.parent.parent.parent.name: p.parent for p in exports}
