import numpy as np
import pytest
import torch

from visadapt.data import DigitsDataset
from visadapt.data.digits import stratified_order
from visadapt.registry import ConfigError


def test_items_are_three_channel_unit_range_images():
    ds = DigitsDataset("val200", image_size=32)
    x, y = ds[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert x.min() == 0.0 and x.max() <= 1.0 and x.max() > 0.5
    assert torch.equal(x[0], x[2]) and isinstance(y, int) and 0 <= y < 10
    assert ds.num_classes == 10 and ds.class_names == [str(d) for d in range(10)]
    assert DigitsDataset("val200", image_size=16)[0][0].shape == (3, 16, 16)


def test_split_sizes_union_and_disjointness():
    splits = {s: DigitsDataset(s) for s in ("train800", "val200", "train800val200", "test", "train", "val")}
    assert {s: len(d) for s, d in splits.items()} == {
        "train800": 800, "val200": 200, "train800val200": 1000, "test": 797, "train": 800, "val": 200
    }
    union = np.concatenate([splits["train800"].images, splits["val200"].images])
    np.testing.assert_array_equal(union, splits["train800val200"].images)
    np.testing.assert_array_equal(splits["train"].images, splits["train800"].images)
    train = {im.tobytes() for im in splits["train800val200"].images}
    assert sum(im.tobytes() in train for im in splits["test"].images) <= 2  # sklearn digits has a few duplicates


def test_splits_are_stratified():
    for split, per_class in (("train800", 80), ("val200", 20), ("test", 79.7)):
        counts = np.bincount(DigitsDataset(split).targets, minlength=10)
        assert np.abs(counts - per_class).max() <= 3, (split, counts)


def test_stratified_order_is_a_seeded_permutation():
    labels = np.repeat(np.arange(3), [5, 10, 15])
    order = stratified_order(labels, seed=0)
    assert sorted(order.tolist()) == list(range(30))
    np.testing.assert_array_equal(order, stratified_order(labels, seed=0))
    for k in range(1, 31):  # every prefix holds each class in proportion, up to rounding
        counts = np.bincount(labels[order[:k]], minlength=3)
        assert np.abs(counts - k * np.array([5, 10, 15]) / 30).max() < 2


def test_unknown_split_lists_valid_ones():
    with pytest.raises(ConfigError, match="unknown split 'validation'.*train800val200"):
        DigitsDataset("validation")
