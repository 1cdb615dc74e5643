"""Rendering, masks, videos and captions of the shapes world."""
import dataclasses
import time

import numpy as np
import pytest

from visadapt.data import SHAPES_TASKS, ShapesDataset, caption, render_scene, render_video
from visadapt.data.shapes import COLORS, SHAPES, Background, Scene, ShapeObject, move_scene, render_background
from visadapt.data.shapes.render import REACH
from visadapt.registry import ConfigError

DARK = Background("dark", (20, 20, 20), (20, 20, 20))


def obj(shape="circle", color="red", size=0.25, x=0.5, y=0.5, **kwargs):
    return ShapeObject(shape=shape, color=color, size=size, x=x, y=y, **kwargs)


def test_image_and_masks_have_the_contract_shapes():
    scene = Scene(DARK, (obj(x=0.3), obj("star", "blue", x=0.7)))
    image, masks = render_scene(scene, image_size=40)
    assert image.shape == (40, 40, 3) and image.dtype == np.uint8
    assert masks.shape == (2, 40, 40) and masks.dtype == bool
    empty_image, empty_masks = render_scene(Scene(DARK, ()), 16)
    assert empty_masks.shape == (0, 16, 16) and (empty_image == 20).all()


def test_rendering_is_deterministic_and_ignores_global_rng():
    scene = ShapesDataset("count", "test").scene(11)
    np.random.seed(0)
    first = render_scene(scene)
    np.random.seed(1)
    second = render_scene(scene)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_solid_object_colour_edges_are_antialiased():
    image, masks = render_scene(Scene(DARK, (obj(size=0.3),)), 32)
    red, bg = np.array(COLORS["red"]), np.array([20, 20, 20])
    assert (image[masks[0]] == red).all(axis=1).mean() > 0.7
    intermediate = ~(image == red).all(axis=2) & ~(image == bg).all(axis=2)
    assert intermediate.sum() >= 8  # blended edge pixels


@pytest.mark.parametrize("task", ["count", "background", "shape_multi"])
def test_masks_agree_with_the_image(task):
    ds = ShapesDataset(task, "val200")
    for idx in range(12):
        scene = ds.scene(idx)
        image, masks = render_scene(scene, 32)
        background = np.rint(render_background(scene.background, 32)).astype(int)
        diff = np.abs(image.astype(int) - background).sum(axis=2)
        for mask in masks:
            assert mask.any() and diff[mask].mean() > 30  # object pixels differ from the background
        grid = (np.arange(32) + 0.5) / 32
        far = np.ones((32, 32), bool)
        for o in scene.objects:
            reach = o.size * REACH + 1.5 / 32
            far &= (grid[None, :] - o.x) ** 2 + (grid[:, None] - o.y) ** 2 > reach**2
        assert far.any() and (diff[far] <= 1).all()  # untouched pixels are pure background
        assert not (masks.sum(axis=0) > 1).any()  # a pixel belongs to at most one object


def test_later_objects_occlude_earlier_ones_in_image_and_masks():
    below, above = obj("square", "blue", x=0.4), obj("circle", "yellow", x=0.6)
    image, masks = render_scene(Scene(DARK, (below, above)), 32)
    _, alone = render_scene(Scene(DARK, (below,)), 32)
    _, top_alone = render_scene(Scene(DARK, (above,)), 32)
    np.testing.assert_array_equal(masks[1], top_alone[0])
    np.testing.assert_array_equal(masks[0], alone[0] & ~masks[1])
    assert (alone[0] & masks[1]).sum() > 20
    assert (image[masks[1]] == COLORS["yellow"]).all(axis=1).mean() > 0.7


def test_all_shapes_have_distinct_silhouettes():
    silhouettes = [render_scene(Scene(DARK, (obj(s, angle=10.0),)), 32)[1][0] for s in SHAPES]
    for i in range(len(SHAPES)):
        for j in range(i + 1, len(SHAPES)):
            a, b = silhouettes[i], silhouettes[j]
            assert (a & b).sum() / (a | b).sum() < 0.9, (SHAPES[i], SHAPES[j])


def test_arrow_is_asymmetric_and_rotation_is_counter_clockwise():
    def mask(angle):
        return render_scene(Scene(DARK, (obj("arrow", angle=angle),)), 32)[1][0]

    east, west, north = mask(0.0), mask(180.0), mask(90.0)
    np.testing.assert_array_equal(west, east[:, ::-1])  # rotating by 180 mirrors the arrow
    assert (east != west).sum() > 20
    rows = np.nonzero(north)[0]
    widest = np.argmax(north.sum(axis=1))
    assert rows[0] <= widest < rows.mean()  # the wide head is in the upper half: "north" points up


def test_textures_are_visible_inside_the_object():
    def inner_pixels(texture):
        image, masks = render_scene(Scene(DARK, (obj(size=0.35, texture=texture),)), 32)
        return image[masks[0]]

    assert (inner_pixels("solid") == COLORS["red"]).all(axis=1).mean() > 0.8
    for texture in ("stripes", "dots", "checker"):
        assert (inner_pixels(texture) == COLORS["red"]).all(axis=1).mean() < 0.6, texture


def test_backgrounds_differ_by_kind():
    gradient = render_background(Background("gradient", (30, 30, 30), (220, 220, 220)), 32)
    assert gradient[0].mean() < 60 and gradient[-1].mean() > 190
    noise = render_background(Background("noise", (128, 128, 128), (128, 128, 128), noise_seed=5), 32)
    assert np.abs(np.diff(noise, axis=1)).mean() > 10
    again = render_background(Background("noise", (128, 128, 128), (128, 128, 128), noise_seed=5), 32)
    np.testing.assert_array_equal(noise, again)


def test_video_moves_objects_and_bounces_inside_the_image():
    scene = Scene(DARK, (obj(size=0.1, x=0.5, y=0.5, velocity=(0.09, -0.05)),))
    video = render_video(scene, num_frames=6, image_size=24)
    assert video.shape == (6, 24, 24, 3) and video.dtype == np.uint8
    np.testing.assert_array_equal(video[0], render_scene(scene, 24)[0])
    assert all((video[t] != video[t + 1]).any() for t in range(5))
    for t in range(200):
        o = move_scene(scene, t).objects[0]
        assert 0.1 - 1e-9 <= o.x <= 0.9 + 1e-9 and 0.1 - 1e-9 <= o.y <= 0.9 + 1e-9
    assert move_scene(scene, 5).objects[0].x == pytest.approx(0.5 + 0.45 - 2 * (0.95 - 0.9))  # one reflection


def test_caption_grammar():
    stars = [obj("star", "red", x=0.2), obj("star", "red", x=0.5)]
    scene = Scene(DARK, (*stars, obj("circle", "blue", x=0.8)))
    assert caption(scene) == "two red stars and a blue circle on a dark background"
    noisy = Background("noise", (128, 128, 128), (128, 128, 128))
    objects = (obj("cross", "orange", texture="stripes"), obj("arrow", "orange"), *[obj("cross", "green")] * 3)
    mixed = Scene(noisy, objects)
    assert caption(mixed) == "a striped orange cross, an orange arrow and three green crosses on a noisy background"
    assert caption(Scene(DARK, ())) == "an empty dark background"


def test_invalid_scene_values_are_named():
    with pytest.raises(ConfigError, match="'hexagone'.*circle"):
        obj("hexagone")
    with pytest.raises(ConfigError, match="color 'teal'"):
        obj(color="teal")
    with pytest.raises(ConfigError, match="size"):
        obj(size=0.0)
    with pytest.raises(ConfigError, match="background 'sky'"):
        Background("sky", (0, 0, 0), (0, 0, 0))


def test_rendering_is_fast():
    scenes = [ShapesDataset(task, "test").scene(i) for task in ("shape", "count") for i in range(100)]
    start = time.perf_counter()
    for scene in scenes:
        render_scene(scene, 32)
    per_image = (time.perf_counter() - start) / len(scenes)
    assert per_image < 5e-3  # about 0.5 ms measured on one CPU core; loose bound against noisy machines


def test_every_task_has_a_sampler_consistent_with_its_label():
    for name, task in SHAPES_TASKS.items():
        rng = np.random.default_rng(0)
        for label in range(task.num_classes):
            for _ in range(5):
                scene = task.sample(rng, label)
                assert task.label(scene) == label, name
                assert dataclasses.is_dataclass(scene) and len(scene.objects) >= 1
