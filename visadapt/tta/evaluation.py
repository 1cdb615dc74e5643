"""Running a TTA method over a stream online, and its error tables.

:func:`run_stream` is a plain loop with a tqdm progress bar, not a Lightning loop: online TTA adapts inside
the forward pass, and Lightning's evaluation loops (``inference_mode``, ``model.eval()`` at the start) get in
the way (tta.md 1.0); the loop runs under ``torch.no_grad()`` and each method re-enables grad itself.
"""
from __future__ import annotations

import itertools
import time
from typing import Any, Callable

import torch
from tqdm import tqdm

from visadapt.rng import rng_state, set_rng_state
from visadapt.tta.stream import Stream, StreamBatch


def top1_errors(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample 0/1 top-1 errors (bool)."""
    return logits.argmax(1).cpu() != labels.cpu()


def error_rate(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 error in percent."""
    return 100.0 * top1_errors(logits, labels).float().mean().item()


class StreamTally:
    """What :func:`run_stream` has counted so far. :meth:`state` is plain values (``torch.save``-able, loads with
    ``weights_only=True``), so a killed stream continues from the last finished domain with the same counts."""

    def __init__(self, state: dict[str, Any] | None = None):
        state = state or {}
        self.wrong: dict[str, int] = dict(state.get("wrong", {}))
        self.seen: dict[str, int] = dict(state.get("seen", {}))
        self.sev_wrong: dict[str, dict[int, int]] = {k: dict(v) for k, v in state.get("sev_wrong", {}).items()}
        self.sev_seen: dict[str, dict[int, int]] = {k: dict(v) for k, v in state.get("sev_seen", {}).items()}
        self.curve: list[dict[str, Any]] = list(state.get("curve", []))
        self.resets, self.updates_since_reset = state.get("resets", 0), state.get("updates_since_reset", 0)
        self.previous: str | None = state.get("previous")
        self.adapt_seconds, self.wall_seconds = state.get("adapt_seconds", 0.0), state.get("wall_seconds", 0.0)
        self.batches: int = state.get("batches", 0)

    def add(self, batch: StreamBatch, err: torch.Tensor) -> None:
        for name, sev, e in zip(batch.sample_domains, batch.severities, err.tolist()):
            self.wrong[name] = self.wrong.get(name, 0) + e
            self.seen[name] = self.seen.get(name, 0) + 1
            self.sev_wrong.setdefault(name, {})[sev] = self.sev_wrong.get(name, {}).get(sev, 0) + e
            self.sev_seen.setdefault(name, {})[sev] = self.sev_seen.get(name, {}).get(sev, 0) + 1
        self.curve.append({"domain": batch.domain, "size": len(err), "error": 100.0 * err.sum().item() / len(err)})
        self.previous = batch.domain
        self.batches += 1

    def state(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("wrong", "seen", "sev_wrong", "sev_seen", "curve", "resets",
                                              "updates_since_reset", "previous", "adapt_seconds", "wall_seconds",
                                              "batches")}

    def result(self) -> dict[str, Any]:
        errors = {name: 100.0 * self.wrong[name] / self.seen[name] for name in self.seen}
        num_images = sum(self.seen.values())
        return {
            "errors": errors,
            "mean_error": sum(errors.values()) / len(errors) if errors else float("nan"),
            "per_severity": {
                name: {int(s): 100.0 * self.sev_wrong[name][s] / n for s, n in sevs.items()}
                for name, sevs in self.sev_seen.items() if len(sevs) > 1
            },
            "batches": self.curve,
            "num_images": num_images,
            "num_resets": self.resets,
            "adapt_seconds": self.adapt_seconds,
            "images_per_s": num_images / self.adapt_seconds if self.adapt_seconds > 0 else float("nan"),
            "wall_seconds": self.wall_seconds,
        }


def run_stream(
    method: torch.nn.Module, stream: Stream, device: str | torch.device | None = None, progress: bool = True,
    start: dict[str, Any] | None = None, on_domain_end: Callable[[StreamTally], Any] | None = None,
) -> dict[str, Any]:
    """Feed every batch of ``stream`` once to ``method`` (online: each batch is scored with the prediction the
    method returns for it) and apply the stream's reset policy.

    Returns ``errors`` (per-domain top-1 error %, in stream order), ``mean_error`` (unweighted mean over
    domains), ``per_severity`` (per domain and severity, when a domain has several), ``batches`` (per-batch
    domain, size, error %: the error curve), ``num_images``, ``num_resets``, ``adapt_seconds`` / ``images_per_s``
    (time in the method's forward only) and ``wall_seconds`` (including data loading).

    ``on_domain_end(tally)`` is called each time a domain has ended (``tally.previous`` is its name), before the
    next one starts; ``start`` (a ``tally.state()`` saved there) skips the batches it counted and continues.
    """
    policy = stream.spec.reset
    device = torch.device(device) if device is not None else next(
        (p.device for p in method.parameters()), torch.device("cpu"))
    tally = StreamTally(start)
    began = time.perf_counter() - tally.wall_seconds
    batches = itertools.islice(stream.batches(), tally.batches, None)
    bar = tqdm(batches, total=len(stream), initial=tally.batches, disable=not progress, desc="tta", unit="batch")
    with torch.no_grad():
        for batch in bar:
            if on_domain_end is not None and tally.previous is not None and batch.domain != tally.previous:
                tally.wall_seconds = time.perf_counter() - began
                on_domain_end(tally)
            reset = (
                policy == "episodic"
                or (policy == "domain" and tally.previous is not None and batch.domain != tally.previous)
                or (isinstance(policy, int) and tally.updates_since_reset >= policy)
            )
            if reset:
                method.reset()
                tally.resets += 1
                tally.updates_since_reset = 0
            images = batch.images.to(device)
            t0 = time.perf_counter()
            logits = method(images)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            tally.adapt_seconds += time.perf_counter() - t0
            tally.updates_since_reset += 1
            tally.add(batch, top1_errors(logits, batch.labels))
            bar.set_postfix(domain=batch.domain,
                            err=f"{100.0 * sum(tally.wrong.values()) / sum(tally.seen.values()):.1f}")
    tally.wall_seconds = time.perf_counter() - began
    if on_domain_end is not None and tally.previous is not None:
        on_domain_end(tally)
    return tally.result()


# Methods whose whole changing state method_state() captures (tensors, optimizer state, plain attributes,
# generators), checked for each by tests/tta/test_tta_resume.py; a method not listed restarts from its source
# model when a stream is resumed.
RESUMABLE_METHODS = ("source", "bn", "tent", "eta", "eata", "sar", "cotta", "vida", "lame")
_PLAIN = (bool, int, float, str, type(None), torch.Tensor)


def method_state(method: torch.nn.Module) -> dict[str, Any]:
    """What a TTA method has learnt so far: its tensors (``state_dict``), its optimizer's state, its plain public
    attributes (counters, moving averages), its random generators and the global RNG; tensors and plain values
    only, so it loads with ``torch.load(weights_only=True)``."""
    attributes = vars(method)
    optimizer = getattr(method, "optimizer", None)
    return {
        "tensors": method.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "attributes": {k: v for k, v in attributes.items()
                       if not k.startswith("_") and k != "training" and isinstance(v, _PLAIN)},
        "generators": {k: v.get_state() for k, v in attributes.items() if isinstance(v, torch.Generator)},
        "rng": rng_state(),
    }


def load_method_state(method: torch.nn.Module, state: dict[str, Any]) -> None:
    """Put a freshly built method (same config) back where :func:`method_state` found it."""
    method.load_state_dict(state["tensors"])
    if state["optimizer"] is not None:
        method.optimizer.load_state_dict(state["optimizer"])
    for name, value in state["attributes"].items():
        setattr(method, name, value)
    for name, value in state["generators"].items():
        getattr(method, name).set_state(value)
    set_rng_state(state["rng"])


def format_table(errors: dict[str, float], mean: float, title: str = "") -> str:
    """Domains as rows plus a ``mean`` row, errors in %."""
    width = max([len(d) for d in errors] + [len("mean"), len("domain")])
    lines = [title] if title else []
    lines += [f"{'domain':<{width}}  error(%)", f"{'-' * width}  --------"]
    lines += [f"{d:<{width}}  {e:8.2f}" for d, e in errors.items()]
    lines += [f"{'-' * width}  --------", f"{'mean':<{width}}  {mean:8.2f}"]
    return "\n".join(lines)
