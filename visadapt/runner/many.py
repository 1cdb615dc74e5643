"""Training many configs: reuse of finished runs and spawned worker processes (benchmarks and sweeps)."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import torch
from mmengine.config import Config

from visadapt.registry import ConfigError
from visadapt.runner.run import train

T = TypeVar("T")


def csv_list(text: str | None, kind: type = str) -> list | None:
    """A command line's comma-separated list (None when the option was not given)."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return [kind(t) for t in items]
    except ValueError as err:
        raise ConfigError(f"cannot read {text!r} as a list of {kind.__name__}: {err}") from err


def pick(requested: list[str] | None, valid: list[str], kind: str) -> list[str]:
    """The requested names (all of ``valid`` if None), each checked against ``valid``, duplicates dropped."""
    if requested is None:
        return list(valid)
    unknown = [r for r in requested if r not in valid]
    if unknown:
        raise ConfigError(f"unknown {kind}(s) {', '.join(unknown)}; valid {kind}s: {', '.join(valid)}")
    if not requested:
        raise ConfigError(f"no {kind} selected; valid {kind}s: {', '.join(valid)}")
    return list(dict.fromkeys(requested))


def finished_run(cfg: Config, work_root: Path) -> dict[str, Any] | None:
    """The results of an earlier run of exactly this config under ``work_root`` (an interrupted benchmark rerun
    with the same output directory picks up where it stopped); None if there is none."""
    text = cfg.pretty_text
    for results_file in sorted(Path(work_root).glob("*/results.json")):
        saved = results_file.parent / "config.py"
        if saved.is_file() and saved.read_text() == text:  # run_dir: where it is now, if the tree was moved
            return json.loads(results_file.read_text()) | {"run_dir": str(results_file.parent)}
    return None


def train_or_reuse(cfg: Config, work_root: Path, threads: int = 0) -> dict[str, Any]:
    """Train ``cfg`` quietly under ``work_root`` unless an identical finished run is there; ``reused`` says which."""
    if threads > 0:
        torch.set_num_threads(threads)
    for name in ("lightning.pytorch", "lightning.fabric"):  # one "GPU available" banner per run is noise here
        logging.getLogger(name).setLevel(logging.WARNING)
    results = finished_run(cfg, work_root)
    if results is not None:
        return results | {"reused": True}
    with contextlib.redirect_stdout(io.StringIO()):  # train() prints a table per run; results.json keeps it
        return train(cfg, work_root) | {"reused": False}


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
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(fn, item, **kwargs): i for i, item in enumerate(items)}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            report(items[i], results[i])
    return results
