"""Trained subjects at sampling time: finding a run's adapter export and loading one or several of them into a
pipeline (diffusers' ``load_lora_weights`` + ``set_adapters`` for LoRA exports, so subjects combine with weights;
visadapt's adapter API for any other method, one at a time)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import torch

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


# The LoRA key forms a diffusers file may hold: diffusers' own (``<module>.lora.down.weight``, what visadapt writes),
# PEFT's (``<module>.lora_A.weight``) and the old attention-processor one (``<attn>.processor.to_q_lora.down.weight``).
_LORA_KEY = re.compile(r"^(?P<part>unet|text_encoder)\.(?P<module>.+?)\."
                       r"(?:lora\.(?P<diffusers>down|up)|(?P<peft>lora_A|lora_B))\.weight$")
_PROCESSOR_KEY = re.compile(r"^(?P<part>unet|text_encoder)\.(?P<attn>.+)\.processor\.(?P<proj>to_q|to_k|to_v|to_out)"
                            r"_lora\.(?P<diffusers>down|up)\.weight$")
_SHOWN = 8


def _in_out(module: torch.nn.Module) -> tuple[int, int] | None:
    """(input, output) features of a linear or convolution layer, through wrappers (``base_layer``)."""
    while hasattr(module, "base_layer"):
        module = module.base_layer
    if isinstance(module, torch.nn.Linear):
        return module.in_features, module.out_features
    if isinstance(module, torch.nn.Conv2d):
        return module.in_channels, module.out_channels
    return None


def _listed(items: list[str], sep: str = ", ") -> str:
    more = f"{sep}... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return sep.join(items[:_SHOWN]) + more


def check_lora_fits(backbone, file: Path) -> None:
    """Refuse a diffusers LoRA file made for another model, naming its keys that do not fit: a module this model
    lacks, or one of another shape. (diffusers loads such a file with a logged warning, silently leaving out the
    LoRA layers it cannot place, or fails with only the first line of PyTorch's message.) Keys in a form not listed
    above are left to diffusers."""
    from safetensors import safe_open

    modules = {part: dict(getattr(backbone, part).named_modules()) for part in ("unet", "text_encoder")}
    missing, shapes, total = [], [], 0
    with safe_open(str(file), framework="pt") as f:
        for key in f.keys():
            m = _LORA_KEY.match(key) or _PROCESSOR_KEY.match(key)
            if m is None:
                continue
            total += 1
            part = m["part"]
            if "attn" in m.groupdict():
                name = f"{m['attn']}.{m['proj']}" + (".0" if m["proj"] == "to_out" else "")
            else:
                name = m["module"]
            candidates = [name] + ([name.removeprefix("text_model."), f"text_model.{name}"] if part == "text_encoder"
                                   else [])
            module = next((modules[part][c] for c in candidates if c in modules[part]), None)
            if module is None:
                missing.append(key)
                continue
            features = _in_out(module)
            shape = tuple(f.get_slice(key).get_shape())
            down = m["diffusers"] == "down" or m["peft"] == "lora_A"
            if features is None or len(shape) < 2 or (shape[1] if down else shape[0]) != features[0 if down else 1]:
                expected = "not a linear or convolution layer" if features is None else (
                    f"[r, {features[0]}]" if down else f"[{features[1]}, r]")
                shapes.append(f"{key}: {list(shape)}, model expects {expected}")
    if missing or shapes:
        model = getattr(backbone, "folder", None) or "this model"
        problems = []
        if missing:
            problems.append(f"{len(missing)} of its {total} LoRA tensors are for modules {model} lacks: "
                            f"{_listed(missing)}")
        if shapes:
            problems.append(f"{len(shapes)} of its {total} LoRA tensors have another shape: {_listed(shapes, '; ')}")
        raise ConfigError(f"{file}: this LoRA was made for another model; " + "; ".join(problems))


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
        for directory in subjects:  # all before loading any: a loaded LoRA wraps the modules it targets
            check_lora_fits(backbone, directory / DIFFUSERS_FILE)
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
