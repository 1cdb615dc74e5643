"""ImageDataset's seeded augmentation and EpochSampler: a resumed run must replay the same epochs exactly."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from visadapt.data import EpochSampler, ImageDataset
from visadapt.registry import ConfigError


class RandomImages(ImageDataset):
    """Asymmetric random images, so every flip visibly changes the pixels."""

    def __init__(self, n=32, size=12, channels=3, **kwargs):
        super().__init__(**kwargs)
        rng = np.random.default_rng(123)
        shape = (n, size, size) if channels == 0 else (n, size, size, channels)
        self.images = rng.integers(0, 256, shape, dtype=np.uint8)
        self.num_classes, self.class_names = 2, ["a", "b"]

    @property
    def num_items(self):
        return len(self.images)

    def load(self, idx):
        return self.images[idx], idx % 2


FLIP = [dict(type="HorizontalFlip", p=0.5)]


def _flipped(ds, i):
    """Whether item i came out horizontally flipped (the images are random, so never both)."""
    out = ds[i][0]
    raw = torch.from_numpy(ds.images[i % len(ds)]).permute(2, 0, 1).float() / 255
    assert torch.equal(out, raw) or torch.equal(out, raw.flip(-1))
    return torch.equal(out, raw.flip(-1))


def test_item_is_float_chw_in_unit_range_and_int_target():
    x, y = RandomImages()[3]
    assert x.dtype == torch.float32 and x.shape == (3, 12, 12)
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
    assert isinstance(y, int) and y == 1


def test_grayscale_arrays_become_three_channels():
    for channels in (0, 1):
        ds = RandomImages(channels=channels)
        x, _ = ds[0]
        assert x.shape == (3, 12, 12)
        assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])


def test_index_encodes_epoch_and_item():
    ds = RandomImages(n=5)
    assert len(ds) == 5
    assert ds[7][1] == ds[2][1] == 0  # epoch 1, item 2
    assert torch.equal(ds[7][0], ds[2][0])  # no transform: every epoch identical
    with pytest.raises(IndexError, match="negative index"):
        ds[-1]


def test_iteration_stops_after_one_epoch():
    assert len(list(RandomImages(n=6))) == 6


def test_augmentation_is_a_pure_function_of_seed_epoch_and_index():
    a, b = RandomImages(transform=FLIP, seed=3), RandomImages(transform=FLIP, seed=3)
    n = len(a)
    for i in [0, 5, n + 5, 4 * n + 31]:
        assert torch.equal(a[i][0], b[i][0])  # a fresh instance (a resumed run) replays it
        assert torch.equal(a[i][0], a[i][0])  # re-reading does not advance any state
    epoch0 = [_flipped(a, i) for i in range(n)]
    epoch1 = [_flipped(a, n + i) for i in range(n)]
    assert 0 < sum(epoch0) < n  # p=0.5 really is random across items
    assert epoch0 != epoch1  # and differs between epochs
    other_seed = RandomImages(transform=FLIP, seed=4)
    assert [_flipped(other_seed, i) for i in range(n)] != epoch0


def test_transforms_in_one_pipeline_draw_independently():
    ds = RandomImages(n=48, transform=[dict(type="HorizontalFlip", p=0.5), dict(type="VerticalFlip", p=0.5)])
    outcomes = set()
    for i in range(len(ds)):
        out, raw = ds[i][0], torch.from_numpy(ds.images[i]).permute(2, 0, 1).float() / 255
        for h in (False, True):
            for v in (False, True):
                ref = raw.flip(-1) if h else raw
                if torch.equal(out, ref.flip(-2) if v else ref):
                    outcomes.add((h, v))
    assert outcomes == {(False, False), (False, True), (True, False), (True, True)}


def test_negative_seed_is_rejected():
    with pytest.raises(ConfigError, match="seed"):
        RandomImages(seed=-1)


def test_epoch_sampler_covers_each_index_once_per_epoch():
    sampler = EpochSampler(10, seed=1)
    orders = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        order = list(sampler)
        assert len(sampler) == 10
        assert sorted(order) == list(range(epoch * 10, epoch * 10 + 10))
        orders.append([i - epoch * 10 for i in order])
    assert orders[0] != orders[1] != orders[2]
    again = EpochSampler(10, seed=1)
    again.set_epoch(1)
    assert [i - 10 for i in again] == orders[1]
    other = EpochSampler(10, seed=2)
    other.set_epoch(1)
    assert [i - 10 for i in other] != orders[1]


def test_epoch_sampler_without_shuffle_is_identity_order():
    sampler = EpochSampler(4, shuffle=False)
    sampler.set_epoch(2)
    assert list(sampler) == [8, 9, 10, 11]
    with pytest.raises(ConfigError, match="data_source_len"):
        EpochSampler(0)


def test_resumed_epoch_replays_the_same_batches():
    def epoch_batches(epoch, skip_earlier):
        ds = RandomImages(transform=FLIP, seed=7)
        sampler = EpochSampler(len(ds), seed=7)
        loader = DataLoader(ds, batch_size=8, sampler=sampler)
        for e in range(0 if skip_earlier else epoch, epoch + 1):
            sampler.set_epoch(e)
            batches = [(x.clone(), y.clone()) for x, y in loader]
        return batches

    straight, resumed = epoch_batches(2, skip_earlier=True), epoch_batches(2, skip_earlier=False)
    assert len(straight) == 4
    for (xa, ya), (xb, yb) in zip(straight, resumed):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
