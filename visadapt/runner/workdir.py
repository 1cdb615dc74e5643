"""The run directory: ``work_dirs/{config name}/{timestamp}/`` and finding the run that ``--resume auto`` continues."""
from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

# Set by the launching process so that DDP worker processes (which re-run the same command) share its run dir.
RUN_DIR_ENV = "VISADAPT_RUN_DIR"
LAST_CHECKPOINT = "last.ckpt"


def is_launched_worker() -> bool:
    return int(os.environ.get("LOCAL_RANK", "0")) > 0 or int(os.environ.get("NODE_RANK", "0")) > 0


def new_run_dir(root: Path) -> Path:
    stamp = time.strftime("%Y%m%d_%H%M%S")
    run = root / stamp
    suffix = 1
    while run.exists():
        run = root / f"{stamp}_{suffix}"
        suffix += 1
    try:
        run.mkdir(parents=True)
    except OSError as err:  # a file where a folder should be, no permission, ...
        raise type(err)(f"cannot create the run directory '{run}': {err.strerror or err}") from None
    return run


def outermost_new(root: Path) -> Path | None:
    """The outermost folder that creating a run under ``root`` adds (``root`` itself or one above it), or None
    when ``root`` exists (the run directory is then the only new folder)."""
    root = Path(root).absolute()
    if root.exists():
        return None
    while not root.parent.exists():
        root = root.parent
    return root


@contextlib.contextmanager
def removed_on_error(folder: Path | None) -> Iterator[None]:
    """Removes ``folder`` (a run directory made for this run, before anything in it is worth keeping) when the body
    fails, so an invalid config leaves no empty timestamped run behind; None keeps everything."""
    try:
        yield
    except BaseException:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def latest_resumable_run(root: Path) -> Path | None:
    """The newest run under ``root`` that has a last checkpoint."""
    runs = sorted((p for p in root.glob("*/checkpoints") if (p / LAST_CHECKPOINT).is_file()),
                  key=lambda p: (p / LAST_CHECKPOINT).stat().st_mtime)
    return runs[-1].parent if runs else None


def resolve_run(root: Path, resume: str | None) -> tuple[Path, Path | None]:
    """(run dir, checkpoint to resume from). ``resume`` is None, 'auto' or a checkpoint path."""
    if is_launched_worker() and os.environ.get(RUN_DIR_ENV):
        run = Path(os.environ[RUN_DIR_ENV])
        ckpt = run / "checkpoints" / LAST_CHECKPOINT if resume else None
        return run, (Path(resume) if resume not in (None, "auto") else ckpt)
    if resume == "auto":
        run = latest_resumable_run(root)
        if run is not None:
            return run, run / "checkpoints" / LAST_CHECKPOINT
        print(f"--resume auto: no checkpoint under {root}; starting a new run")
        return new_run_dir(root), None
    if resume:
        ckpt = Path(resume)
        if not ckpt.is_file():
            raise FileNotFoundError(f"--resume: checkpoint not found: {ckpt}")
        run = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else new_run_dir(root)
        return run, ckpt
    return new_run_dir(root), None
