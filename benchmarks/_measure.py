"""Timing and memory helpers shared by the benchmarks.

Absolute timings on a shared machine drift with background load, so every comparison here is made between
methods run side by side: round-robin rounds whose starting method rotates, and ratios taken within a round.
"""
from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import torch


def sync(device: torch.device) -> None:
    """CUDA kernels run asynchronously; a timer must wait for them."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes, its queued device work included."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def interleave(fns: dict[str, Callable[[], object]], rounds: int, device: torch.device) -> dict[str, list[float]]:
    """Time every function once per round; the order rotates so no function always runs after the same one."""
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(time_call(fns[name], device))
    return times


def ratio_stats(times: list[float], reference: list[float]) -> tuple[float, float, float]:
    """Median and quartiles of the per-round ratios: pairing rounds cancels load that drifts between rounds."""
    ratios = [t / ref for t, ref in zip(times, reference)]
    if len(ratios) < 2:
        return ratios[0], ratios[0], ratios[0]
    q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return median, q1, q3


def storage_key(t: torch.Tensor) -> tuple[str, int]:
    """Views share their base's storage; keying by storage counts the memory once."""
    storage = t.untyped_storage()
    return str(storage.device), storage.data_ptr()


def add_storages(store: dict[tuple[str, int], int], tensors: Iterator[torch.Tensor]) -> None:
    for t in tensors:
        store[storage_key(t)] = t.untyped_storage().nbytes()


@contextmanager
def saved_for_backward() -> Iterator[dict[tuple[str, int], int]]:
    """Bytes of the storages autograd keeps for backward while the block runs, keyed by storage.

    The hook returns the tensor unchanged, so what is measured is exactly what autograd would have kept.
    """
    store: dict[tuple[str, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        add_storages(store, iter([t]))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield store


def median_ms(times: list[float]) -> float:
    return 1000 * statistics.median(times)


def provenance(script: str, argv: list[str] | None, start: float) -> dict[str, object]:
    """How and where a result was made: the command that remakes it, torch, machine, date, wall seconds."""
    import platform
    import sys

    args = sys.argv[1:] if argv is None else argv
    return dict(command=" ".join(["python", f"benchmarks/{script}", *args]), torch=torch.__version__,
                machine=platform.machine(), date=time.strftime("%Y-%m-%d"), wall_seconds=round(time.time() - start, 1))


def write_results(out_dir, result: dict, table: str) -> None:
    """``results.json`` and ``table.md`` in ``out_dir`` (created), and the table on stdout."""
    import json
    from pathlib import Path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "table.md").write_text(table)
    print(table)
