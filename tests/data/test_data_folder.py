"""ImageFolderDataset, VTABListDataset and FGVCJsonDataset on small real PNG/JPEG files."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from visadapt.data import FGVCJsonDataset, ImageFolderDataset, VTABListDataset
from visadapt.registry import DATASETS, ConfigError


def write_image(path, seed, mode="RGB", fmt=None, size=(10, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path, format=fmt)
    return pixels


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "folder"
    pixels = {
        "cat/a.png": write_image(root / "cat" / "a.png", 0),
        "cat/b.JPG": write_image(root / "cat" / "b.JPG", 1, fmt="JPEG"),
        "dog/nested/c.png": write_image(root / "dog" / "nested" / "c.png", 2, mode="L"),
    }
    (root / "dog" / "notes.txt").write_text("not an image")
    return root, pixels


def test_image_folder_reads_classes_and_formats(folder):
    root, pixels = folder
    ds = DATASETS.build(dict(type="ImageFolderDataset", root=str(root)))
    assert ds.class_names == ["cat", "dog"] and ds.num_classes == 2 and len(ds) == 3
    assert [label for _, label in ds.samples] == [0, 0, 1]
    x, y = ds[0]
    assert x.shape == (3, 8, 10) and x.dtype == torch.float32 and y == 0
    np.testing.assert_allclose(x.permute(1, 2, 0).numpy(), pixels["cat/a.png"] / 255.0, atol=1e-6)
    jpeg = ds[1][0]
    assert jpeg.shape == (3, 8, 10) and 0 <= jpeg.min() and jpeg.max() <= 1
    grey, label = ds[2]
    assert label == 1 and torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    np.testing.assert_allclose(grey[0].numpy(), pixels["dog/nested/c.png"] / 255.0, atol=1e-6)


def test_image_folder_with_resize_transform(folder):
    ds = ImageFolderDataset(folder[0], transform=[dict(type="Resize", height=16, width=16)])
    assert ds[1][0].shape == (3, 16, 16)


def test_image_folder_missing_or_empty_root_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ImageFolderDataset(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no class sub-folders"):
        ImageFolderDataset(tmp_path)
    (tmp_path / "empty_class").mkdir()
    write_image(tmp_path / "full" / "x.png", 0)
    with pytest.raises(FileNotFoundError, match="empty_class"):
        ImageFolderDataset(tmp_path)


@pytest.mark.parametrize("content", [b"definitely not a png", "truncated"])
def test_corrupt_image_error_names_the_file(folder, content):
    root, _ = folder
    bad = root / "cat" / "broken.png"
    if content == "truncated":
        write_image(bad, 3, size=(64, 64))
        bad.write_bytes(bad.read_bytes()[:200])
    else:
        bad.write_bytes(content)
    ds = ImageFolderDataset(root)
    idx = [str(p) for p, _ in ds.samples].index(str(bad))
    with pytest.raises(OSError, match="broken.png"):
        ds[idx]


@pytest.fixture
def vtab(tmp_path):
    root = tmp_path / "vtab"
    lines = {"train800": [], "val200": [], "test": []}
    for i in range(6):
        split = ("train800", "train800", "val200", "test", "test", "test")[i]
        rel = f"images/dir {i % 2}/img{i}.jpg"  # a space in the path, as some VTAB folders have
        write_image(root / rel, i, fmt="JPEG")
        lines[split].append(f"{rel} {i % 4}")
    for split, entries in lines.items():
        (root / f"{split}.txt").write_text("\n".join(entries) + "\n\n")
    (root / "train800val200.txt").write_text("\n".join(lines["train800"] + lines["val200"]) + "\n")
    return root


def test_vtab_lists_read_paths_and_labels(vtab):
    ds = DATASETS.build(dict(type="VTABListDataset", root=str(vtab), split="train800val200"))
    assert len(ds) == 3 and [label for _, label in ds.samples] == [0, 1, 2]
    assert ds.num_classes == 4 and ds.class_names == ["0", "1", "2", "3"]  # 3 only appears in test.txt
    x, y = ds[2]
    assert x.shape == (3, 8, 10) and y == 2
    named = VTABListDataset(vtab, "test", class_names=["a", "b", "c", "d"])
    assert named.num_classes == 4 and named.class_names[named[2][1]] == "b"
    assert VTABListDataset(vtab, "val200", num_classes=7).num_classes == 7


def test_vtab_malformed_line_names_file_and_line(vtab):
    (vtab / "val200.txt").write_text("images/dir 0/img0.jpg 1\nimages/dir 1/img1.jpg\n")
    with pytest.raises(ConfigError, match=r"val200\.txt:2: expected"):
        VTABListDataset(vtab, "val200")
    (vtab / "val200.txt").write_text("images/dir 0/img0.jpg one\n")
    with pytest.raises(ConfigError, match=r"val200\.txt:1: .*'images/dir 0/img0.jpg one'"):
        VTABListDataset(vtab, "val200")


def test_vtab_missing_files_and_bad_arguments_are_explained(vtab):
    (vtab / "test.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"test\.txt' not found; expected train800\.txt, val200\.txt"):
        VTABListDataset(vtab, "test")
    with pytest.raises(ConfigError, match="unknown split 'train'.*train800val200"):
        VTABListDataset(vtab, "train")
    with pytest.raises(ConfigError, match="label 1 but num_classes=1"):
        VTABListDataset(vtab, "train800", num_classes=1)
    with pytest.raises(ConfigError, match="2 'class_names' given but num_classes=4"):
        VTABListDataset(vtab, "train800", num_classes=4, class_names=["a", "b"])
    (vtab / "images" / "dir 1" / "img1.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="img1.jpg"):
        VTABListDataset(vtab, "train800")


@pytest.fixture
def fgvc(tmp_path):
    """A VPT-format FGVC task: images under root/images, 1-based sparse class ids in {train,val,test}.json."""
    root = tmp_path / "CUB_200_2011"
    for i, cid in enumerate([1, 1, 5, 9, 5, 9]):
        path = root / "images" / f"c{cid}" / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((6, 8, 3), 10 * i, np.uint8)).save(path)
    names = [f"c{cid}/{i}.jpg" for i, cid in enumerate([1, 1, 5, 9, 5, 9])]
    (root / "train.json").write_text(json.dumps({names[0]: 1, names[2]: 5, names[3]: 9}))
    (root / "val.json").write_text(json.dumps({names[1]: 1}))
    (root / "test.json").write_text(json.dumps({names[4]: 5, names[5]: 9}))
    return root


def test_fgvc_json_splits_share_one_contiguous_labelling(fgvc):
    train = FGVCJsonDataset(fgvc, "train", image_dir="images")
    assert train.num_classes == 3 and train.class_names == ["1", "5", "9"]
    assert sorted(label for _, label in train.samples) == [0, 1, 2]
    trainval = DATASETS.build(dict(type="FGVCJsonDataset", root=str(fgvc), split="trainval", image_dir="images"))
    assert len(trainval) == 4 and sorted(label for _, label in trainval.samples) == [0, 0, 1, 2]
    test = FGVCJsonDataset(fgvc, "test", image_dir="images")
    image, label = test[0]
    assert image.shape == (3, 6, 8) and label == 1  # class id 5 -> label 1, as in train


def test_fgvc_json_errors_name_the_file_or_split(fgvc):
    with pytest.raises(ConfigError, match="unknown split 'train800'.*trainval"):
        FGVCJsonDataset(fgvc, "train800")
    with pytest.raises(FileNotFoundError, match=r"image\(s\) of split 'train' not found under .*image_dir=''"):
        FGVCJsonDataset(fgvc, "train")  # images live under images/
    (fgvc / "val.json").write_text("{not json")
    with pytest.raises(ConfigError, match="val.json' is not valid json"):
        FGVCJsonDataset(fgvc, "trainval", image_dir="images")
    (fgvc / "val.json").unlink()
    with pytest.raises(FileNotFoundError, match="val.json' not found"):
        FGVCJsonDataset(fgvc, "trainval", image_dir="images")
