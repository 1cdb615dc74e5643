"""CoOpDataset reads CoOp's on-disk layout: split_zhou json files, FGVCAircraft's lists, ImageNet's folders."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from visadapt.data import COOP_TEMPLATES, CoOpDataset, FewShotDataset
from visadapt.registry import ConfigError


def write_image(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((6, 8, 3), value, np.uint8)).save(path)


@pytest.fixture
def root(tmp_path):
    pets = tmp_path / "oxford_pets"
    split = {"train": [], "val": [], "test": []}
    for label, name in enumerate(["abyssinian", "great_pyrenees"]):
        for i in range(5):
            rel = f"{name}_{i}.jpg"
            write_image(pets / "images" / rel, 10 * label + i)
            split["train" if i < 3 else "val" if i == 3 else "test"].append([rel, label, name])
    (pets / "split_zhou_OxfordPets.json").write_text(json.dumps(split))

    aircraft = tmp_path / "fgvc_aircraft"
    (aircraft / "images").mkdir(parents=True)
    (aircraft / "variants.txt").write_text("707-320\nA300B4\n")
    for s, rows in {"train": ["0001 707-320", "0002 A300B4"], "val": ["0003 A300B4"], "test": ["0004 707-320"]}.items():
        (aircraft / f"images_variant_{s}.txt").write_text("\n".join(rows) + "\n")
        for row in rows:
            write_image(aircraft / "images" / f"{row.split()[0]}.jpg", 5)

    imagenet = tmp_path / "imagenet"
    imagenet.mkdir()
    (imagenet / "classnames.txt").write_text("n01440764 tench\nn01443537 goldfish\n")
    for s in ("train", "val"):
        for wnid in ("n01440764", "n01443537"):
            write_image(imagenet / "images" / s / wnid / "a.JPEG", 1)
    return tmp_path


def test_reads_split_zhou_json_with_class_names_and_templates(root):
    train = CoOpDataset(root, "OxfordPets", "train")
    assert train.class_names == ["abyssinian", "great pyrenees"] and train.num_classes == 2
    assert len(train) == 6 and [train.label(i) for i in range(6)] == [0, 0, 0, 1, 1, 1]
    image, label = train[3]
    assert image.shape == (3, 6, 8) and label == 1 and float(image[0, 0, 0]) == pytest.approx(10 / 255)
    assert len(CoOpDataset(root, "OxfordPets", "test")) == 2
    assert COOP_TEMPLATES["OxfordPets"] == ["a photo of a {}, a type of pet."] == train.templates
    few = FewShotDataset(CoOpDataset(root, "OxfordPets", "train"), shots=2, seed=1)
    assert len(few) == 4 and few.class_names == train.class_names and few.templates == train.templates


def test_fgvc_aircraft_and_imagenet_layouts(root):
    aircraft = CoOpDataset(root, "FGVCAircraft", "train")
    assert aircraft.class_names == ["707-320", "A300B4"] and [aircraft.label(i) for i in range(2)] == [0, 1]
    assert CoOpDataset(root, "FGVCAircraft", "test")[0][1] == 0
    imagenet = CoOpDataset(root, "ImageNet", "test")
    assert imagenet.class_names == ["tench", "goldfish"] and len(imagenet) == 2
    with pytest.raises(ConfigError, match="no val split"):
        CoOpDataset(root, "ImageNet", "val")


def test_errors_name_the_dataset_the_file_and_what_was_expected(root, tmp_path):
    with pytest.raises(ConfigError, match="unknown dataset 'Pets'.*OxfordPets"):
        CoOpDataset(root, "Pets")
    with pytest.raises(FileNotFoundError, match="dtd"):
        CoOpDataset(root, "DescribableTextures")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": [["a.jpg", "x"]]}))
    with pytest.raises(ConfigError, match="bad.json.*path, label, class_name"):
        CoOpDataset(root, "OxfordPets", split_file=str(bad))
    with pytest.raises(ConfigError, match="split must be one of"):
        CoOpDataset(root, "OxfordPets", "trainval")
