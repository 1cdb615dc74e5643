"""FewShotDataset: K per class, reproducible per seed, saved and re-read exactly, bad split files explained."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from visadapt.data import FewShotDataset, ShapesDataset, draw_few_shot
from visadapt.registry import DATASETS, ConfigError

BASE = dict(type="ShapesDataset", task="color", split="train800", image_size=16)


def test_draw_takes_k_per_class_without_replacement_and_all_of_a_small_class():
    labels = [0, 1, 0, 2, 1, 0, 0, 1]
    chosen = draw_few_shot(labels, shots=2, seed=1)
    assert [labels[i] for i in chosen] == [0, 0, 1, 1, 2]  # class 2 has one item: it is kept
    assert len(set(chosen)) == len(chosen)
    assert chosen == draw_few_shot(labels, shots=2, seed=1)
    assert any(draw_few_shot(labels, 2, s) != chosen for s in range(2, 6))  # other seeds, other draws


def test_few_shot_split_is_saved_and_read_back_exactly(tmp_path):
    fs = DATASETS.build(dict(type="FewShotDataset", dataset=BASE, shots=4, seed=2,
                             save_to=str(tmp_path / "split.json")))
    assert len(fs) == 32 and fs.num_classes == 8
    assert np.bincount([fs.label(i) for i in range(len(fs))]).tolist() == [4] * 8
    saved = json.loads((tmp_path / "split.json").read_text())
    assert saved["shots"] == 4 and saved["seed"] == 2 and saved["indices"] == fs.indices
    again = FewShotDataset(BASE, shots=4, split_file=str(tmp_path / "split.json"))
    assert again.indices == fs.indices
    base = ShapesDataset("color", "train800", image_size=16)
    image, label = fs[5]
    assert torch.equal(image, base[fs.indices[5]][0]) and label == base.label(fs.indices[5])


def test_bad_split_files_are_explained(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"indices": [0, 8, 16, 24, 32]}))  # five items of class 0
    with pytest.raises(ConfigError, match="5 items of a class, more than shots=4"):
        FewShotDataset(BASE, shots=4, split_file=str(bad))
    bad.write_text(json.dumps({"indices": [900]}))
    with pytest.raises(ConfigError, match="outside 0..799"):
        FewShotDataset(BASE, shots=4, split_file=str(bad))
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="'indices' list"):
        FewShotDataset(BASE, shots=4, split_file=str(bad))
    with pytest.raises(FileNotFoundError, match="nope.json"):
        FewShotDataset(BASE, shots=4, split_file=str(tmp_path / "nope.json"))
    with pytest.raises(ConfigError, match="'shots' must be a positive int"):
        FewShotDataset(BASE, shots=0)
