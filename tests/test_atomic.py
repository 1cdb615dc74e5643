"""Files and folders are replaced whole: a failure while writing leaves the previous version."""
from __future__ import annotations

import pytest

from visadapt import atomic


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "results.json"
    atomic.write_text(path, "old")
    with pytest.raises(RuntimeError):
        with atomic.replacing(path) as f:
            f.write("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_folder_is_swapped_in_whole(tmp_path):
    target, staged = tmp_path / "adapter", tmp_path / "staged"
    target.mkdir()
    (target / "a").write_text("old")
    staged.mkdir()
    (staged / "a").write_text("new")
    atomic.replace_directory(staged, target)
    assert (target / "a").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]
