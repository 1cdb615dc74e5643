"""The 15 common corruptions and the corruption-benchmark datasets (CorruptedDataset, CIFAR-10-C, ImageNet-C)."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from visadapt.data.corruptions import (
    CORRUPTIONS,
    CIFAR10CDataset,
    CorruptedDataset,
    ImageNetCDataset,
    brightness,
    contrast,
    corrupt,
    jpeg_compression,
    pixelate,
)
from visadapt.data.corruptions.functional import PARAMS, motion_kernel, plasma_fractal
from visadapt.data.shapes import ShapesDataset
from visadapt.registry import DATASETS, ConfigError

STANDARD_ORDER = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)


@pytest.fixture(scope="module")
def shapes_images():
    ds = ShapesDataset(task="shape", split="test", num_samples=4)
    return [ds.load(i)[0] for i in range(4)]


def mad(a, b):
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_corruptions_are_the_standard_15_in_order():
    assert CORRUPTIONS == STANDARD_ORDER and set(PARAMS) == set(CORRUPTIONS)
    assert all(len(table) == 5 for cifar_imagenet in PARAMS.values() for table in cifar_imagenet)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_shape_dtype_determinism_and_change(name, shapes_images):
    image = shapes_images[0]
    for severity in (1, 5):
        out = corrupt(image, name, severity, np.random.default_rng(7))
        assert out.shape == image.shape and out.dtype == np.uint8
        np.testing.assert_array_equal(out, corrupt(image, name, severity, np.random.default_rng(7)))
        assert mad(out, image) > 0.1, (name, severity)
    # non-square, ImageNet-sized input uses the ImageNet table and keeps its shape
    big = np.random.default_rng(0).integers(0, 256, (72, 80, 3), dtype=np.uint8)
    out = corrupt(big, name, 3, np.random.default_rng(1))
    assert out.shape == big.shape and out.dtype == np.uint8


RANDOM = {"gaussian_noise", "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "snow", "frost", "fog",
          "elastic_transform"}


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_corruptions_depend_on_the_generator(name, shapes_images):
    a = corrupt(shapes_images[1], name, 5, np.random.default_rng(1))
    b = corrupt(shapes_images[1], name, 5, np.random.default_rng(2))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", [n for n in CORRUPTIONS if n != "elastic_transform"])
def test_severity_5_corrupts_more_than_severity_1(name, shapes_images):
    # Not every corruption is monotone at every step (frost lowers the image weight at 3 but not the frost weight
    # proportionally, glass_blur alternates iterations and sigma), but 5 always exceeds 1.
    for i, image in enumerate(shapes_images):
        d1 = np.mean([mad(corrupt(image, name, 1, np.random.default_rng([i, k])), image) for k in range(3)])
        d5 = np.mean([mad(corrupt(image, name, 5, np.random.default_rng([i, k])), image) for k in range(3)])
        assert d5 > d1, (name, i, d1, d5)


def test_elastic_transform_table_is_not_monotone_by_design(shapes_images):
    # CIFAR-10-C's published elastic table shrinks the affine jitter (2.56 px -> 0.96 px) as the elastic part
    # grows, so the pixel change is not monotone; check instead that the elastic displacement alone grows:
    # with the affine part removed, severity 5 (alpha 3.2) moves pixels more than severity 2 (sigma 6.4 smooths
    # the field to almost nothing).
    from visadapt.data.corruptions import functional as F

    cifar = PARAMS["elastic_transform"][0]
    assert cifar[0][0] == 0 and cifar[0][2] > cifar[4][2]
    saved = F.PARAMS["elastic_transform"]
    try:
        F.PARAMS["elastic_transform"] = ([(a, s, 0.0) for a, s, _ in saved[0]], saved[1])
        image = shapes_images[2]
        d = [np.mean([mad(corrupt(image, "elastic_transform", s, k), image) for k in range(3)]) for s in (1, 2, 5)]
    finally:
        F.PARAMS["elastic_transform"] = saved
    assert d[0] == 0 and d[2] > d[1]


def test_brightness_and_contrast_by_hand():
    grey = np.full((8, 8, 3), 100, np.uint8)
    rng = np.random.default_rng(0)
    # constant grey: V = 100/255, +c, colour stays grey; results truncate like the original's np.uint8
    for severity, c in zip(range(1, 6), [0.05, 0.1, 0.15, 0.2, 0.3]):
        expected = int((100 / 255 + c) * 255)
        assert np.all(brightness(grey, severity, rng) == expected), severity
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[..., 0] = 200
    colour[..., 1] = 100  # HSV keeps hue and saturation: R:G stays 2:1, B stays 0
    out = brightness(colour, 5, rng).astype(int)
    assert abs(out[0, 0, 0] - 255) <= 1 and abs(out[0, 0, 1] - 127) <= 1 and out[0, 0, 2] == 0
    black = np.zeros((4, 4, 3), np.uint8)
    assert np.all(brightness(black, 5, rng) == int(0.3 * 255))
    # contrast pulls each channel toward its mean: half 0 / half 200 -> mean 100, c = 0.15 at severity 5
    two = np.zeros((8, 8, 3), np.uint8)
    two[:4] = 200
    out = contrast(two, 5, rng).astype(int)
    assert np.all(np.abs(out[:4] - 115) <= 1) and np.all(np.abs(out[4:] - 85) <= 1)
    assert np.array_equal(contrast(grey, 5, rng), grey)  # constant image has nothing to reduce


def test_pixelate_at_known_factor():
    # 128 px with the ImageNet table, severity 5: factor 0.25 -> 32 px box-down, box-up = 4x4 block means
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    out = pixelate(image, 5, rng)
    blocks = image.reshape(32, 4, 32, 4, 3).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_allclose(out.reshape(32, 4, 32, 4, 3)[:, 0, :, 0], blocks, atol=1)
    assert np.all(out.reshape(32, 4, 32, 4, 3) == out.reshape(32, 4, 32, 4, 3)[:, :1, :, :1])
    # CIFAR table at 32 px, severity 4: factor 0.75 -> 24 px: 24 distinct columns at most
    small = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = pixelate(small, 4, rng)
    assert len(np.unique(out[0, :, 0])) <= 24 and not np.array_equal(out, small)
    assert pixelate(small, 4, rng, table="imagenet").shape == small.shape


def test_jpeg_quality_effect():
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(128, 40, (64, 64, 3)), 0, 255).astype(np.uint8)
    errors = [mad(jpeg_compression(image, s, rng), image) for s in range(1, 6)]
    assert errors == sorted(errors) and errors[4] > errors[0]
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=40)  # CIFAR severity 5
    np.testing.assert_array_equal(jpeg_compression(image, 5, rng), np.asarray(Image.open(buf)))
    # the ImageNet table (quality 7 at severity 5) is much harsher than CIFAR's (quality 40)
    assert mad(jpeg_compression(image, 5, rng, table="imagenet"), image) > errors[4]


def test_helpers():
    k = motion_kernel(10, 2, 0)  # taps 0..8 (4 sigma) along +x, one-sided
    assert k.shape == (17, 17) and abs(k.sum() - 1) < 1e-6
    assert k[8, 8] == k.max() and k[8, :8].sum() == 0 and k[8, 9] > k[8, 10] > 0 and k[8, 16] > 0
    assert np.count_nonzero(k) == 9 and np.count_nonzero(motion_kernel(10, 2, 90)[:, 8]) == 9
    p = plasma_fractal(32, 3, np.random.default_rng(0))
    assert p.shape == (32, 32) and p.min() == 0 and p.max() == 1
    np.testing.assert_array_equal(p, plasma_fractal(32, 3, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="power of 2"):
        plasma_fractal(30, 3, np.random.default_rng(0))


def test_corrupt_errors(shapes_images):
    with pytest.raises(ConfigError, match=r"unknown corruption 'fogg'.*gaussian_noise.*jpeg_compression"):
        corrupt(shapes_images[0], "fogg", 1, 0)
    for bad in (0, 6, 2.0, True):
        with pytest.raises(ConfigError, match="severity"):
            corrupt(shapes_images[0], "fog", bad, 0)
    with pytest.raises(ConfigError, match="uint8"):
        corrupt(shapes_images[0].astype(np.float32), "fog", 1, 0)
    with pytest.raises(ConfigError, match="unknown parameter table"):
        corrupt(shapes_images[0], "fog", 1, 0, table="tiny")


def test_corrupted_dataset_composes_with_shapes():
    base = ShapesDataset(task="shape", split="test", num_samples=6)
    ds = CorruptedDataset(base, corruption="gaussian_noise", severity=3, seed=5)
    assert len(ds) == 6 and ds.num_classes == base.num_classes and ds.class_names == base.class_names
    x, y = ds[2]
    clean, label = base[2]
    assert x.shape == clean.shape == (3, 32, 32) and x.dtype == torch.float32 and y == label
    assert 0.01 < (x - clean).abs().mean() < 0.2
    image, target = base.load(2)
    rng = np.random.default_rng([5, CORRUPTIONS.index("gaussian_noise"), 3, 2])
    np.testing.assert_array_equal(ds.load(2)[0], corrupt(image, "gaussian_noise", 3, rng))
    # deterministic: a second instance, any access order; different seeds differ
    again = DATASETS.build(dict(type="CorruptedDataset", base=dict(type="ShapesDataset", task="shape", split="test",
                                                                   num_samples=6),
                                corruption="gaussian_noise", severity=3, seed=5, cache=True))
    for i in (5, 0, 2):
        assert torch.equal(again[i][0], ds[i][0])
    assert torch.equal(again[2][0], ds[2][0])  # from the cache
    other = CorruptedDataset(base, corruption="gaussian_noise", severity=3, seed=6)
    assert not torch.equal(other[2][0], x)
    # the epoch index wraps like every ImageDataset; a transform runs after the corruption
    assert torch.equal(ds[6 + 2][0], x)
    flipped = CorruptedDataset(base, "gaussian_noise", 3, seed=5, transform=[dict(type="HorizontalFlip", p=1.0)])
    assert torch.equal(flipped[2][0], x.flip(-1))


def test_corrupted_dataset_errors():
    base = ShapesDataset(task="shape", split="test", num_samples=2)
    with pytest.raises(ConfigError, match="unknown corruption 'rain'.*frost"):
        CorruptedDataset(base, "rain", 1)
    with pytest.raises(ConfigError, match="severity"):
        CorruptedDataset(base, "fog", 0)
    with pytest.raises(ConfigError, match="ImageDataset"):
        CorruptedDataset(np.zeros((2, 32, 32, 3)), "fog", 1)
    augmented = ShapesDataset(task="shape", split="test", num_samples=2, transform=[dict(type="HorizontalFlip")])
    with pytest.raises(ConfigError, match="transform"):
        CorruptedDataset(augmented, "fog", 1)


def write_cifar10c(root, n=4, corruptions=("fog",), labels_per_severity=False):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for name in corruptions:
        arrays[name] = rng.integers(0, 256, (5 * n, 32, 32, 3), dtype=np.uint8)
        np.save(root / f"{name}.npy", arrays[name])
    labels = np.arange(n) % 10
    np.save(root / "labels.npy", labels if labels_per_severity else np.tile(labels, 5))
    return arrays, labels


def test_cifar10c_reads_the_severity_block(tmp_path):
    arrays, labels = write_cifar10c(tmp_path, n=4)
    ds = DATASETS.build(dict(type="CIFAR10CDataset", root=str(tmp_path), corruption="fog", severity=3))
    assert len(ds) == 4 and ds.num_classes == 10 and ds.class_names[0] == "airplane"
    for i in range(4):
        image, label = ds.load(i)
        np.testing.assert_array_equal(image, arrays["fog"][2 * 4 + i])
        assert label == labels[i]
    x, y = ds[1]
    assert x.shape == (3, 32, 32) and torch.allclose(x, torch.from_numpy(arrays["fog"][9]).permute(2, 0, 1) / 255.0)
    ds5 = CIFAR10CDataset(tmp_path, "fog", 5, num_samples=2)
    assert len(ds5) == 2
    np.testing.assert_array_equal(ds5.load(1)[0], arrays["fog"][17])
    short = tmp_path / "short"
    arrays, labels = write_cifar10c(short, n=3, labels_per_severity=True)
    assert [CIFAR10CDataset(short, "fog", 2).load(i)[1] for i in range(3)] == list(labels)


def test_cifar10c_errors(tmp_path):
    write_cifar10c(tmp_path, n=2)
    with pytest.raises(FileNotFoundError, match=r"snow\.npy"):
        CIFAR10CDataset(tmp_path, "snow", 1)
    with pytest.raises(FileNotFoundError, match=r"labels\.npy"):
        CIFAR10CDataset(tmp_path / "empty", "fog", 1)
    with pytest.raises(ConfigError, match="unknown corruption 'haze'.*saturate"):
        CIFAR10CDataset(tmp_path, "haze", 1)
    with pytest.raises(ConfigError, match="severity"):
        CIFAR10CDataset(tmp_path, "fog", 6)
    with pytest.raises(ConfigError, match="num_samples"):
        CIFAR10CDataset(tmp_path, "fog", 1, num_samples=3)
    np.save(tmp_path / "labels.npy", np.zeros(7, np.int64))
    with pytest.raises(ConfigError, match="7 labels"):
        CIFAR10CDataset(tmp_path, "fog", 1)
    np.save(tmp_path / "frost.npy", np.zeros((7, 32, 32, 3), np.uint8))
    with pytest.raises(ConfigError, match="severities stacked"):
        CIFAR10CDataset(tmp_path, "frost", 1)


def test_imagenetc_reads_class_folders(tmp_path):
    rng = np.random.default_rng(0)
    for wnid in ("n01440764", "n01443537"):
        for k in range(2):
            path = tmp_path / "motion_blur" / "5" / wnid / f"ILSVRC2012_val_{k}.JPEG"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(path, "JPEG")
    (tmp_path / "motion_blur" / "1").mkdir()
    ds = DATASETS.build(dict(type="ImageNetCDataset", root=str(tmp_path), corruption="motion_blur", severity=5))
    assert isinstance(ds, ImageNetCDataset) and ds.class_names == ["n01440764", "n01443537"]
    assert len(ds) == 4 and [ds.load(i)[1] for i in range(4)] == [0, 0, 1, 1]
    x, y = ds[3]
    assert x.shape == (3, 24, 20) and y == 1
    with pytest.raises(FileNotFoundError, match=r"motion_blur/3"):
        ImageNetCDataset(tmp_path, "motion_blur", 3)
    with pytest.raises(FileNotFoundError, match="no class sub-folders"):
        ImageNetCDataset(tmp_path, "motion_blur", 1)
    with pytest.raises(ConfigError, match="unknown corruption"):
        ImageNetCDataset(tmp_path, "blur", 1)
    with pytest.raises(ConfigError, match="severity"):
        ImageNetCDataset(tmp_path, "motion_blur", 0)
