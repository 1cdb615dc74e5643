"""Reading weight files safely, and the project's model zoo.

Every checkpoint is read with safetensors or ``torch.load(weights_only=True)``; arbitrary pickled code is
never executed. A model-zoo entry is one self-describing safetensors file whose metadata records the
architecture it was trained with, so ``pretrained='vit_tiny_shapes'`` is enough to rebuild it.
"""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from visadapt.registry import ConfigError

_TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")


def model_zoo_dir() -> Path:
    """``$VISADAPT_MODEL_ZOO`` or the repository's ``model_zoo/`` folder."""
    env = os.environ.get("VISADAPT_MODEL_ZOO")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "model_zoo"


def list_model_zoo() -> list[str]:
    zoo = model_zoo_dir()
    return sorted(p.stem for p in zoo.glob("*.safetensors")) if zoo.is_dir() else []


def resolve_weights(pretrained: str | os.PathLike) -> Path:
    """A local path, or the name of a model-zoo entry; anything else is an error that says what exists."""
    path = Path(pretrained).expanduser()
    if path.is_file():
        return path
    zoo_file = model_zoo_dir() / f"{pretrained}.safetensors"
    if zoo_file.is_file():
        return zoo_file
    # A name like 'vit_tiny_shapes' may be a model-zoo entry; a path or file name is not one.
    zoo = "" if path.suffix or len(path.parts) > 1 else f" and no model-zoo entry {zoo_file}"
    raise FileNotFoundError(
        f"pretrained weights '{pretrained}' not found: no file at {path.resolve()}{zoo}. Model-zoo entries: "
        f"{', '.join(list_model_zoo()) or 'none'}. For upstream weights, download the checkpoint (e.g. timm's "
        "model.safetensors) on a machine with access and pass its local path."
    )


def load_torch_file(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` with one-line errors naming the file: a pickle of arbitrary Python
    objects is refused with the way to convert a trusted file; anything else that is no torch file says so."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if refused is None:
            reason = re.search(r"WeightsUnpickler error:\s*(.+?)\s*Check the documentation", str(err), re.S)
            detail = " ".join((reason.group(1) if reason else str(err)).split())[:200]
            raise ValueError(f"{path}: not a torch checkpoint ({detail})") from None
        out = path.with_suffix(".safetensors")
        raise ValueError(
            f"{path}: holds arbitrary Python objects ({refused.group(1)}), which visadapt will not execute. If you "
            "trust the file, convert its tensors to safetensors (this runs the pickle): python -c \"import torch, "
            f"safetensors.torch as st; s = torch.load('{path}', weights_only=False); s = s.get('state_dict', s); "
            f"st.save_file({{k: v.contiguous() for k, v in s.items() if torch.is_tensor(v)}}, '{out}')\""
        ) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise ValueError(f"{path}: not a readable torch checkpoint ({type(err).__name__}: "
                         f"{' '.join(str(err).split())[:200] or 'empty file'})") from None


@contextlib.contextmanager
def safetensors_errors_named(path: Path) -> Iterator[None]:
    """A damaged safetensors file as a ValueError naming it (safetensors' own error does not)."""
    try:
        yield
    except SafetensorError as err:
        raise ValueError(f"{path}: not a readable safetensors file ({err})") from None


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON values stored in a safetensors file's metadata (model-zoo entries keep their build recipe there)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return {}
    with safetensors_errors_named(path):
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    out = {}
    for key, value in meta.items():
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def load_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors from safetensors or a torch file (``weights_only=True``), unwrapping common containers."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        with safetensors_errors_named(path):
            return load_file(str(path))
    if path.suffix not in _TORCH_SUFFIXES:
        raise ConfigError(f"{path}: unknown checkpoint format; expected .safetensors or one of {_TORCH_SUFFIXES}")
    obj = load_torch_file(path)
    for key in ("state_dict", "model", "module"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: expected a dict of tensors (a state dict)")
    return obj
