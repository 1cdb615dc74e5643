"""Running a TTA method over a stream, and loading TTA run configs.

:func:`run_stream` is a plain loop with a tqdm progress bar, not a Lightning loop: online TTA adapts inside
the forward pass, and Lightning's evaluation loops (``inference_mode``, ``model.eval()`` at the start) get in
the way (tta.md 1.0); the loop runs under ``torch.no_grad()`` and each method re-enables grad itself.
"""
from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config
from tqdm import tqdm

from visadapt.registry import ConfigError
from visadapt.runner.config import load_config
from visadapt.tta.stream import Stream

# Top-level keys a TTA config may have; helper variables must start with an underscore.
TTA_TOP_LEVEL_KEYS = {
    "backbone": "the source model, dict(type='TimmBackbone', name=..., pretrained=...)",
    "method": "the TTA method, dict(type='tent', optimizer=dict(...), ...)",
    "stream": "the test stream (visadapt.tta.StreamSpec fields: domains, severities, order, reset, ...)",
    "fisher_data": "EATA only: clean data for the Fisher information, a DATASETS config dict",
    "fisher_batch_size": "EATA only: batch size of the fisher_data loader (default: the stream's batch size)",
    "seed": "global seed (int)",
    "device": "'cpu', 'cuda' or 'auto' (default)",
}


def load_tta_config(path: str | Path, cfg_options: dict[str, Any] | None = None) -> Config:
    """``Config.fromfile`` + ``--cfg-options``; unknown top-level keys raise a ConfigError listing the valid ones."""
    return load_config(path, cfg_options, keys=TTA_TOP_LEVEL_KEYS, required=("backbone", "method"))


def top1_errors(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample 0/1 top-1 errors (bool)."""
    return logits.argmax(1).cpu() != labels.cpu()


def error_rate(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 error in percent."""
    return 100.0 * top1_errors(logits, labels).float().mean().item()


def run_stream(
    method: torch.nn.Module, stream: Stream, device: str | torch.device | None = None, progress: bool = True
) -> dict[str, Any]:
    """Feed every batch of ``stream`` once to ``method`` (online: each batch is scored with the prediction the
    method returns for it) and apply the stream's reset policy.

    Returns ``errors`` (per-domain top-1 error %, in stream order), ``mean_error`` (unweighted mean over
    domains), ``per_severity`` (per domain and severity, when a domain has several), ``batches`` (per-batch
    domain, size, error %: the error curve), ``num_images``, ``num_resets``, ``adapt_seconds`` / ``images_per_s``
    (time in the method's forward only) and ``wall_seconds`` (including data loading).
    """
    policy = stream.spec.reset
    device = torch.device(device) if device is not None else next(
        (p.device for p in method.parameters()), torch.device("cpu"))
    wrong: dict[str, int] = defaultdict(int)
    seen: dict[str, int] = defaultdict(int)
    sev_wrong: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sev_seen: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    curve, resets, updates_since_reset, previous = [], 0, 0, None
    adapt_time, start = 0.0, time.perf_counter()
    bar = tqdm(stream.batches(), total=len(stream), disable=not progress, desc="tta", unit="batch")
    with torch.no_grad():
        for batch in bar:
            reset = (
                policy == "episodic"
                or (policy == "domain" and previous is not None and batch.domain != previous)
                or (isinstance(policy, int) and updates_since_reset >= policy)
            )
            if reset:
                method.reset()
                resets += 1
                updates_since_reset = 0
            previous = batch.domain
            images = batch.images.to(device)
            t0 = time.perf_counter()
            logits = method(images)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            adapt_time += time.perf_counter() - t0
            updates_since_reset += 1
            err = top1_errors(logits, batch.labels)
            for name, sev, e in zip(batch.sample_domains, batch.severities, err.tolist()):
                wrong[name] += e
                seen[name] += 1
                sev_wrong[name][sev] += e
                sev_seen[name][sev] += 1
            curve.append({"domain": batch.domain, "size": len(err), "error": 100.0 * err.sum().item() / len(err)})
            bar.set_postfix(domain=batch.domain, err=f"{100.0 * sum(wrong.values()) / sum(seen.values()):.1f}")
    wall = time.perf_counter() - start
    errors = {name: 100.0 * wrong[name] / seen[name] for name in seen}
    num_images = sum(seen.values())
    return {
        "errors": errors,
        "mean_error": sum(errors.values()) / len(errors) if errors else float("nan"),
        "per_severity": {
            name: {int(s): 100.0 * sev_wrong[name][s] / n for s, n in sevs.items()}
            for name, sevs in sev_seen.items() if len(sevs) > 1
        },
        "batches": curve,
        "num_images": num_images,
        "num_resets": resets,
        "adapt_seconds": adapt_time,
        "images_per_s": num_images / adapt_time if adapt_time > 0 else float("nan"),
        "wall_seconds": wall,
    }


def format_table(errors: dict[str, float], mean: float, title: str = "") -> str:
    """Domains as rows plus a ``mean`` row, errors in %."""
    width = max([len(d) for d in errors] + [len("mean"), len("domain")])
    lines = [title] if title else []
    lines += [f"{'domain':<{width}}  error(%)", f"{'-' * width}  --------"]
    lines += [f"{d:<{width}}  {e:8.2f}" for d, e in errors.items()]
    lines += [f"{'-' * width}  --------", f"{'mean':<{width}}  {mean:8.2f}"]
    return "\n".join(lines)


def build_from_config(cfg: Config) -> tuple[torch.nn.Module, Stream]:
    """(method, stream) of a loaded TTA config: the source backbone (head size from the stream's base
    dataset), ``build_tta_method(model, cfg.method)`` (EATA gets a ``fisher_data`` loader) and the stream."""
    import visadapt.backbones  # noqa: F401  (registers backbones)
    import visadapt.data  # noqa: F401  (registers datasets)
    from visadapt.registry import DATASETS
    from visadapt.runner.build import build_backbone, to_plain
    from visadapt.tta import build_tta_method

    torch.manual_seed(int(cfg.get("seed", 0)))
    stream = Stream(to_plain(cfg.get("stream", {})))
    model = build_backbone(cfg, stream.num_classes)
    device = resolve_device(cfg.get("device", "auto"))
    model = model.to(device).eval()
    method_cfg = to_plain(cfg.method)
    if not isinstance(method_cfg, dict) or "type" not in method_cfg:
        raise ConfigError(f"method: expected dict(type=..., ...), got {method_cfg!r}")
    if cfg.get("fisher_data") is not None:
        if method_cfg["type"] != "eata":
            raise ConfigError(f"fisher_data is only used by method 'eata', not '{method_cfg['type']}'")
        fisher_set = DATASETS.build(to_plain(cfg.fisher_data))
        batch_size = int(cfg.get("fisher_batch_size") or stream.spec.batch_size)
        loader = torch.utils.data.DataLoader(fisher_set, batch_size=batch_size, shuffle=False)
        method_cfg["fisher_data"] = lambda: ((x.to(device), y) for x, y in loader)
    method = build_tta_method(model, method_cfg)
    return method.to(device), stream


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
    from visadapt.runner.build import to_plain

    method, stream = build_from_config(cfg)
    out = run_stream(method, stream, progress=progress)
    return {
        "errors": out.pop("errors"),
        "mean_error": out.pop("mean_error"),
        "protocol": stream.spec.protocol(),
        "method": to_plain(cfg.method),
        "backbone": to_plain(cfg.backbone),
        "seed": int(cfg.get("seed", 0)),
        **out,
    }
