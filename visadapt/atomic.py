"""Writing files so that a kill at any moment leaves the old or the new file, never a half-written one:
write a temporary file next to the target, flush it to disk, then ``os.replace`` (atomic on POSIX and Windows)."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import IO, Any, Iterator


@contextlib.contextmanager
def replacing(path: str | os.PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """``with replacing(path) as f: f.write(...)``: ``path`` changes only when the block completes."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, mode, **({} if "b" in mode else {"newline": ""})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    with replacing(path) as f:
        f.write(text)


def torch_save(obj: Any, path: str | os.PathLike) -> None:
    import torch

    with replacing(path, "wb") as f:
        torch.save(obj, f)


def replace_directory(staged: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move a completely written folder ``staged`` to ``target``. Folders cannot be swapped in one step, so the
    old one is moved aside first: at every moment ``target`` or ``.<target>.old`` is whole."""
    staged, target = Path(staged), Path(target)
    old = target.with_name(f".{target.name}.old")
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(staged, target)
    shutil.rmtree(old, ignore_errors=True)
