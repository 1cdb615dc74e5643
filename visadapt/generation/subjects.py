"""Trained subjects at sampling time: finding a run's adapter export and loading one or several of them into a
pipeline (diffusers' ``load_lora_weights`` + ``set_adapters`` for LoRA exports, so subjects combine with weights;
visadapt's adapter API for any other method, one at a time)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from visadapt.generation.lora_export import DIFFUSERS_FILE
from visadapt.registry import ConfigError


def adapter_dir(path: str | Path) -> Path:
    """An adapter export: the folder itself, or ``<run>/adapter``."""
    path = Path(path)
    for candidate in (path, path / "adapter"):
        if (candidate / "adapter_config.json").is_file() or (candidate / DIFFUSERS_FILE).is_file():
            return candidate
    raise FileNotFoundError(f"{path}: no adapter export there (adapter_config.json or {DIFFUSERS_FILE}, in the "
                            "folder or its adapter/ sub-folder)")


def pipeline_with_subjects(backbone, subjects: Sequence[Path], scales: Sequence[float]) -> Any:
    """``backbone``'s sampling pipeline with every subject loaded at its scale (0 switches one off)."""
    from visadapt.adapters import load_adapter

    if len(scales) != len(subjects):
        raise ConfigError(f"{len(subjects)} subjects but {len(scales)} scales")
    pipe = backbone.pipeline("ddim")
    if not subjects:
        return pipe
    if all((d / DIFFUSERS_FILE).is_file() for d in subjects):
        names = [f"subject{i}" for i in range(len(subjects))]
        for directory, name in zip(subjects, names):
            try:
                pipe.load_lora_weights(directory, weight_name=DIFFUSERS_FILE, adapter_name=name)
            except (ValueError, RuntimeError, KeyError) as err:
                raise ConfigError(f"{directory}: does not fit this model ({str(err).splitlines()[0]})") from err
        pipe.set_adapters(names, adapter_weights=list(scales))
        return pipe
    if len(subjects) > 1 or any(s != 1.0 for s in scales):
        raise ConfigError("only LoRA exports (with pytorch_lora_weights.safetensors) can be combined or scaled; "
                          f"{', '.join(str(d) for d in subjects)} holds another method: one subject, scale 1")
    load_adapter(backbone.adapted_model, subjects[0])
    return pipe
