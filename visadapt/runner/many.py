"""Training many configs: reuse of finished runs and spawned worker processes (benchmarks and sweeps)."""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import torch
from mmengine.config import Config

from visadapt import atomic
from visadapt.backbones.weights import model_zoo_dir
from visadapt.config import to_plain
from visadapt.runner.run import train

T = TypeVar("T")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WEIGHT_HASHES = "weights_sha256.json"


def weight_files(cfg: Config) -> list[Path]:
    """The local files and folders a config's ``backbone``, ``adapter`` and ``task`` name (a path, or a model-zoo
    entry such as ``pretrained='vit_tiny_shapes'`` or an adapter folder)."""
    zoo = model_zoo_dir()
    found: list[Path] = []

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k not in ("type", "name"):  # registry and architecture names, never files
                    visit(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)
        elif isinstance(value, str) and value:
            for candidate in (Path(value).expanduser(), zoo / value, zoo / f"{value}.safetensors"):
                if candidate.exists():
                    found.append(candidate.resolve())
                    return

    visit([to_plain(cfg.get(key)) for key in ("backbone", "adapter", "task")])
    return sorted(set(found))


def weight_hashes(cfg: Config) -> dict[str, str]:
    """sha256 of every file :func:`weight_files` names (each file of a folder), by path."""
    hashes = {}
    for root in weight_files(cfg):
        for path in sorted(p for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()):
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            hashes[str(path)] = digest.hexdigest()
    return hashes


def finished_run(cfg: Config, work_root: Path) -> dict[str, Any] | None:
    """The results of an earlier run of exactly this config, on the same weight files (compared by their bytes),
    under ``work_root`` (an interrupted benchmark rerun with the same output directory picks up where it
    stopped); None if there is none."""
    text, hashes = cfg.pretty_text, None
    for results_file in sorted(Path(work_root).glob("*/results.json")):
        run = results_file.parent
        if not ((run / "config.py").is_file() and (run / "config.py").read_text() == text):
            continue
        hashes = weight_hashes(cfg) if hashes is None else hashes
        saved = run / WEIGHT_HASHES
        if saved.is_file() and json.loads(saved.read_text()) == hashes:  # run_dir: where it is now, if moved
            return json.loads(results_file.read_text()) | {"run_dir": str(run)}
    return None


def train_or_reuse(cfg: Config, work_root: Path, threads: int = 0) -> dict[str, Any]:
    """Train ``cfg`` quietly under ``work_root`` unless an identical finished run is there; ``reused`` says which.
    A trained run records the hashes of its weight files (``weights_sha256.json``) for that comparison."""
    if threads > 0:
        torch.set_num_threads(threads)
    for name in ("lightning.pytorch", "lightning.fabric"):  # one "GPU available" banner per run is noise here
        logging.getLogger(name).setLevel(logging.WARNING)
    results = finished_run(cfg, work_root)
    if results is not None:
        return results | {"reused": True}
    hashes = weight_hashes(cfg)
    with contextlib.redirect_stdout(io.StringIO()):  # train() prints a table per run; results.json keeps it
        results = train(cfg, work_root)
    atomic.write_text(Path(results["run_dir"]) / WEIGHT_HASHES, json.dumps(hashes, indent=2))
    return results | {"reused": False}


def die_with_parent(parent: int) -> None:
    """Make this worker process end when ``parent`` does, even by SIGKILL (it would otherwise keep training and
    write runs a rerun then reuses): Linux's ``PR_SET_PDEATHSIG``, elsewhere a thread watching the parent pid."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    else:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def map_jobs(fn: Callable[..., dict[str, Any]], items: Sequence[T], jobs: int,
             report: Callable[[T, dict[str, Any]], Any] = lambda item, res: None, **kwargs: Any) -> list[dict]:
    """``[fn(item, **kwargs) for item in items]``, in ``jobs`` spawned processes when ``jobs`` > 1 (CUDA-safe);
    ``report`` sees each result as it arrives."""
    results: list[dict[str, Any] | None] = [None] * len(items)
    if jobs <= 1:
        for i, item in enumerate(items):
            results[i] = fn(item, **kwargs)
            report(item, results[i])
        return results
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(fn, item, **kwargs): i for i, item in enumerate(items)}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            report(items[i], results[i])
    return results
