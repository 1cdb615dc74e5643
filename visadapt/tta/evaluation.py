"""Running a TTA method over a stream online, and its error tables.

:func:`run_stream` is a plain loop with a tqdm progress bar, not a Lightning loop: online TTA adapts inside
the forward pass, and Lightning's evaluation loops (``inference_mode``, ``model.eval()`` at the start) get in
the way (tta.md 1.0); the loop runs under ``torch.no_grad()`` and each method re-enables grad itself.
"""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import torch
from tqdm import tqdm

from visadapt.tta.stream import Stream


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
