"""ShapesDataset splits, determinism, balance, and that each task's label is visible in the image."""
import dataclasses
import pickle

import numpy as np
import pytest
import torch

from visadapt.data import SHAPES_TASKS, ShapesDataset, render_scene
from visadapt.data.shapes import BACKGROUNDS, COLORS, TEXTURES
from visadapt.registry import DATASETS, ConfigError


def rendered(task, split="train800", n=64, **kwargs):
    ds = ShapesDataset(task, split, **kwargs)
    for idx in range(n):
        scene = ds.scene(idx)
        image, masks = render_scene(scene, ds.image_size)
        yield ds.label(idx), scene, image, masks


def test_registered_and_item_contract():
    ds = DATASETS.build(dict(type="ShapesDataset", task="color", split="val200", image_size=24))
    x, y = ds[3]
    assert x.shape == (3, 24, 24) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert isinstance(y, int) and 0 <= y < ds.num_classes == 8 and ds.class_names == list(COLORS)
    assert len(ds) == 200


def test_split_sizes_and_num_samples_override():
    sizes = {s: len(ShapesDataset("shape", s)) for s in ("train800", "val200", "train800val200", "test", "train")}
    assert sizes == {"train800": 800, "val200": 200, "train800val200": 1000, "test": 2000, "train": 20000}
    assert len(ShapesDataset("shape", "test", num_samples=50)) == 50
    with pytest.raises(ConfigError, match="1..800 for split 'train800'"):
        ShapesDataset("shape", "train800", num_samples=801)


def test_data_seed_selects_the_images_and_run_seed_does_not():
    a, b = ShapesDataset("shape_multi", "train", num_samples=20), ShapesDataset("shape_multi", "train", num_samples=20)
    c = ShapesDataset("shape_multi", "train", num_samples=20, data_seed=1)
    d = ShapesDataset("shape_multi", "train", num_samples=20, seed=7)
    for i in range(20):
        assert np.array_equal(a.load(i)[0], b.load(i)[0])
        assert np.array_equal(a.load(i)[0], d.load(i)[0])
    assert sum(np.array_equal(a.load(i)[0], c.load(i)[0]) for i in range(20)) == 0


def test_train800val200_is_train800_followed_by_val200():
    union = ShapesDataset("texture", "train800val200")
    train, val = ShapesDataset("texture", "train800"), ShapesDataset("texture", "val200")
    for i in list(range(0, 800, 37)) + [799]:
        assert np.array_equal(union.load(i)[0], train.load(i)[0]) and union.load(i)[1] == train.load(i)[1]
    for i in list(range(0, 200, 23)) + [199]:
        assert np.array_equal(union.load(800 + i)[0], val.load(i)[0]) and union.load(800 + i)[1] == val.load(i)[1]


def test_splits_are_disjoint():
    def images(split, n):
        ds = ShapesDataset("size", split, num_samples=n)
        return {ds.load(i)[0].tobytes() for i in range(n)}

    trainval, test, train = images("train800val200", 1000), images("test", 500), images("train", 500)
    assert len(trainval) == 1000 and len(test) == 500
    assert not trainval & test and not trainval & train and not test & train


@pytest.mark.parametrize("task", list(SHAPES_TASKS))
def test_labels_are_balanced(task):
    ds = ShapesDataset(task, "train800")
    counts = np.bincount([ds.label(i) for i in range(len(ds))], minlength=ds.num_classes)
    assert counts.max() - counts.min() <= 1 and len(counts) == ds.num_classes
    assert all(SHAPES_TASKS[task].label(ds.scene(i)) == ds.label(i) for i in range(0, 800, 7))


def test_unknown_task_and_split_list_valid_names():
    with pytest.raises(ConfigError, match="unknown task 'colour'.*color.*orientation"):
        ShapesDataset("colour")
    with pytest.raises(ConfigError, match="unknown split 'val'.*train800val200"):
        ShapesDataset("shape", "val")
    with pytest.raises(IndexError, match="index 800"):
        ShapesDataset("shape").scene(800)


def test_dataset_with_augmentation_pickles_for_worker_processes():
    ds = ShapesDataset("orientation", transform=[dict(type="HorizontalFlip", p=0.5)], seed=2)
    clone = pickle.loads(pickle.dumps(ds))
    for i in (0, 801, 1603):
        assert torch.equal(ds[i][0], clone[i][0])


def test_count_equals_number_of_visible_separate_objects():
    for label, scene, _, masks in rendered("count", n=96):
        assert len(scene.objects) == label + 1
        assert sum(m.any() for m in masks) == label + 1


def test_position_label_is_the_quadrant_of_the_mask():
    for label, _, _, masks in rendered("position"):
        cy, cx = np.argwhere(masks[0]).mean(axis=0) / 32
        assert 2 * int(cy >= 0.5) + int(cx >= 0.5) == label


def test_size_classes_have_separated_areas_per_shape():
    areas = {}
    for label, scene, _, masks in rendered("size", "test", n=480):
        areas.setdefault(scene.objects[0].shape, {}).setdefault(label, []).append(masks[0].sum())
    for shape, by_label in areas.items():
        assert max(by_label[0]) < min(by_label[1]) and max(by_label[1]) < min(by_label[2]), shape


def test_color_label_is_the_dominant_colour_of_the_object():
    palette = np.array(list(COLORS.values()), float)
    candidates = np.concatenate([palette, palette * 0.45])  # textures use a darker shade of the colour
    for label, _, image, masks in rendered("color"):
        pixels = image[masks[0]].astype(float)
        nearest = ((pixels[:, None] - candidates[None]) ** 2).sum(axis=2).argmin(axis=1) % len(palette)
        assert np.bincount(nearest, minlength=len(palette)).argmax() == label


def test_texture_label_is_visible():
    for label, scene, image, masks in rendered("texture"):
        m = masks[0]
        inner = m.copy()
        inner[1:] &= m[:-1]
        inner[:-1] &= m[1:]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        pure = (image[inner] == COLORS[scene.objects[0].color]).all(axis=1).mean()
        assert (pure > 0.9) == (TEXTURES[label] == "solid")


def test_background_label_is_visible_outside_the_objects():
    for label, _, image, masks in rendered("background"):
        free, grey = ~masks.any(axis=0), image.astype(float).mean(axis=2)
        roughness = np.abs(np.diff(grey, axis=1))[free[:, 1:] & free[:, :-1]].mean()
        top, bottom = grey[:8][free[:8]].mean(), grey[-8:][free[-8:]].mean()
        if roughness > 10:
            kind = "noise"
        elif abs(top - bottom) > 60:
            kind = "gradient"
        else:
            kind = "dark" if grey[free].mean() < 128 else "light"
        assert kind == BACKGROUNDS[label]


def test_orientation_label_is_the_best_matching_arrow_direction():
    for label, scene, _, masks in rendered("orientation", n=48):
        arrow = scene.objects[0]
        ious = []
        for k in range(8):
            turned = dataclasses.replace(scene, objects=(dataclasses.replace(arrow, angle=45.0 * k),))
            template = render_scene(turned, 32)[1][0]
            ious.append((template & masks[0]).sum() / (template | masks[0]).sum())
        assert int(np.argmax(ious)) == label


def test_distance_label_matches_distance_between_mask_centroids():
    for label, _, _, masks in rendered("distance"):
        a, b = (np.argwhere(m).mean(axis=0) / 32 for m in masks)
        assert int(np.searchsorted([0.365, 0.515, 0.665], np.linalg.norm(a - b))) == label


def test_shape_multi_scenes_share_one_shape():
    ds = ShapesDataset("shape_multi", "train", num_samples=60)
    counts = set()
    for i in range(60):
        shapes = {o.shape for o in ds.scene(i).objects}
        assert shapes == {ds.class_names[ds.label(i)]}
        counts.add(len(ds.scene(i).objects))
    assert counts == {1, 2, 3}


def test_caption_dataset_interleaves_tasks_with_their_captions():
    from visadapt.data import ShapesCaptionDataset, caption

    ds = ShapesCaptionDataset(tasks=["shape", "color"], split="val200", image_size=16)
    assert len(ds) == 400 and ds.num_classes == 0
    image, text = ds[3]  # item 1 of the `color` task
    color = ShapesDataset("color", "val200", image_size=16)
    assert isinstance(text, str) and text == caption(color.scene(1))
    assert torch.equal(image, color[1][0])
    assert len(ShapesCaptionDataset(tasks=["shape"], split="val200", num_samples=10)) == 10
    with pytest.raises(ConfigError, match="num_samples' must be in 1..200"):
        ShapesCaptionDataset(tasks=["shape"], split="val200", num_samples=500)
    with pytest.raises(ConfigError, match="unknown task 'colour'"):
        ShapesCaptionDataset(tasks=["colour"])
