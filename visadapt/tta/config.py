"""TTA run configs: their top-level keys, and building the method and stream they describe."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config

from visadapt.config import load_config, to_plain
from visadapt.registry import DATASETS, TTA_METHODS, ConfigError
from visadapt.tta.evaluation import run_stream
from visadapt.tta.stream import Stream

# Top-level keys a TTA config may have; helper variables must start with an underscore.
TTA_TOP_LEVEL_KEYS = {
    "backbone": "the source model, dict(type='TimmBackbone', name=..., pretrained=...)",
    "method": "the TTA method, dict(type='tent', optimizer=dict(...), ...)",
    "stream": "the test stream (visadapt.tta.StreamSpec fields: domains, severities, order, reset, ...)",
    "source_data": "clean held-out source data for methods that take it (EATA's Fisher information), a DATASETS "
                   "config dict",
    "source_batch_size": "batch size of the source_data loader (default: the stream's batch size)",
    "seed": "global seed (int)",
    "device": "'cpu', 'cuda' or 'auto' (default)",
}


def load_tta_config(path: str | Path, cfg_options: dict[str, Any] | None = None) -> Config:
    """``Config.fromfile`` + ``--cfg-options``; unknown top-level keys raise a ConfigError listing the valid ones."""
    return load_config(path, cfg_options, keys=TTA_TOP_LEVEL_KEYS, required=("backbone", "method"))


def build_from_config(cfg: Config) -> tuple[torch.nn.Module, Stream]:
    """(method, stream) of a loaded TTA config: the source backbone (head size from the stream's base
    dataset), ``build_tta_method(model, cfg.method)`` and the stream. A method class that names a
    ``source_data_argument`` (EATA: its Fisher data) gets a loader over ``cfg.source_data`` there."""
    import visadapt.backbones  # noqa: F401  (registers backbones)
    import visadapt.data  # noqa: F401  (registers datasets)
    from visadapt.backbones.build import build_backbone
    from visadapt.tta import build_tta_method

    torch.manual_seed(int(cfg.get("seed", 0)))
    stream = Stream(to_plain(cfg.get("stream", {})))
    check_source_classes(to_plain(cfg.backbone), stream.num_classes)
    model = build_backbone(to_plain(cfg.backbone), num_classes=stream.num_classes)
    device = resolve_device(cfg.get("device", "auto"))
    model = model.to(device).eval()
    method_cfg = to_plain(cfg.method)
    if not isinstance(method_cfg, dict) or "type" not in method_cfg:
        raise ConfigError(f"method: expected dict(type=..., ...), got {method_cfg!r}")
    if cfg.get("source_data") is not None:
        argument = getattr(TTA_METHODS.get(method_cfg["type"]), "source_data_argument", None)
        if argument is None:
            takers = [n for n in TTA_METHODS.list() if getattr(TTA_METHODS.get(n), "source_data_argument", None)]
            raise ConfigError(f"source_data: method '{method_cfg['type']}' takes no source data (methods that do: "
                              f"{', '.join(takers)})")
        source_set = DATASETS.build(to_plain(cfg.source_data))
        batch_size = int(cfg.get("source_batch_size") or stream.spec.batch_size)
        loader = torch.utils.data.DataLoader(source_set, batch_size=batch_size, shuffle=False)
        method_cfg[argument] = lambda: ((x.to(device), y) for x, y in loader)
    method = build_tta_method(model, method_cfg)
    return method.to(device), stream


def check_source_classes(backbone: dict, num_classes: int) -> None:
    """A source checkpoint must classify the stream's classes: building it with another head size would silently
    replace its head by a random one."""
    from visadapt.backbones import read_metadata, resolve_weights

    pretrained = backbone.get("pretrained") if isinstance(backbone, dict) else None
    if pretrained is None:
        return
    source_classes = read_metadata(resolve_weights(pretrained)).get("num_classes")
    if source_classes and source_classes != num_classes:
        raise ConfigError(f"backbone.pretrained: '{pretrained}' has a {source_classes}-class head but the stream's "
                          f"base dataset has {num_classes} classes; valid: a source trained on the stream's "
                          f"{num_classes} classes")


def resolve_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise ConfigError(f"device: {err}") from None


def run_config(cfg: Config, progress: bool = True) -> dict[str, Any]:
    """Build a loaded TTA config's method and stream, run it, and return the results ``tools/tta.py`` writes:
    per-domain errors, mean, the stream protocol, method / backbone configs, seed and the timings of
    :func:`run_stream`."""
    method, stream = build_from_config(cfg)
    return results_of(cfg, stream, run_stream(method, stream, progress=progress))


def results_of(cfg: Config, stream: Stream, out: dict[str, Any]) -> dict[str, Any]:
    """:func:`run_stream`'s output with what produced it: the stream protocol, method / backbone configs, seed."""
    out = dict(out)
    return {
        "errors": out.pop("errors"),
        "mean_error": out.pop("mean_error"),
        "protocol": stream.spec.protocol(),
        "method": to_plain(cfg.method),
        "backbone": to_plain(cfg.backbone),
        "seed": int(cfg.get("seed", 0)),
        **out,
    }
