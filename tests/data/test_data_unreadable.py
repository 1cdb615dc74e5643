"""Unreadable images (a truncated JPEG, an empty PNG): one line naming the file when training meets one, every one
listed up front by data.verify and tools/check_data.py, or left out with data.skip_corrupt."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.runner.helpers import TINY
from tools import check_data
from tools import train as train_tool


def error_lines(stderr: str) -> list[str]:
    """The tool's own lines on stderr (Lightning also logs there), after checking there is no traceback."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def folder_config(tmp_path):
    root = tmp_path / "images"
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / label / f"{i}.png")
    jpeg = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(jpeg, format="JPEG")
    (root / "a" / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    (root / "b" / "empty.png").write_bytes(b"")
    config = tmp_path / "folder.py"
    folder = f"dict(type='ImageFolderDataset', root='{root}')"
    config.write_text(f"_base_ = ['{TINY}']\n"
                      f"data = dict(_delete_=True, train={folder}, val={folder}, test={folder}, batch_size=4)\n"
                      "trainer = dict(max_epochs=1)\n")
    return config, root


def test_training_stops_with_one_line_naming_the_file(folder_config, tmp_path, capsys):
    config, root = folder_config
    assert train_tool.main([str(config), "--work-dir", str(tmp_path / "w")]) == 1
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error: cannot read image '") and str(root) in err[0]


def test_verify_lists_every_unreadable_file_before_training(folder_config, tmp_path, capsys):
    config, root = folder_config
    argv = [str(config), "--work-dir", str(tmp_path / "w"), "--cfg-options", "data.verify=True"]
    assert train_tool.main(argv) == 1
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and "data.train: 2 unreadable file(s)" in err[0]
    assert str(root / "a" / "truncated.jpg") in err[0] and str(root / "b" / "empty.png") in err[0]
    assert not (tmp_path / "w").exists()  # nothing ran, no run folder left


def test_skip_corrupt_trains_without_them_and_says_how_many(folder_config, tmp_path, capsys):
    config, _ = folder_config
    argv = [str(config), "--work-dir", str(tmp_path / "w"), "--cfg-options", "data.skip_corrupt=True"]
    assert train_tool.main(argv) == 0
    out = capsys.readouterr().out
    assert "data.train: skipped 2 unreadable file(s) of 14 (skip_corrupt)" in out


def test_check_data_lists_them_all(folder_config, capsys):
    config, root = folder_config
    assert check_data.main([str(config)]) == 1
    out = capsys.readouterr().out
    assert "data.train: 14 items, 2 unreadable" in out
    listed = [line for line in out.splitlines() if line.startswith("  cannot read image")]
    assert sum("truncated.jpg" in line for line in listed) == sum("empty.png" in line for line in listed) == 3
    assert check_data.main([str(TINY)]) == 0
