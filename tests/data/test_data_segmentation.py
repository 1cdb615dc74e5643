"""Segmentation data: cast shadows rendered by hand-checkable geometry, the shapes-world mask dataset, PNG masks
from folders (binary 0/255 and 0/1, class-index, palette), and masks moving with the image under augmentation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from visadapt.data import MaskFolderDataset, ShapesSegmentationDataset
from visadapt.data.shapes import SHAPES, Background, Scene, Shadow, ShapeObject, render_layers, render_scene
from visadapt.registry import ConfigError

LIGHT = Background("light", (200, 200, 200), (200, 200, 200))


def square(x=0.5, y=0.5, size=0.25):
    return ShapeObject(shape="square", color="blue", size=size, x=x, y=y, angle=0.0)


def test_a_square_casts_its_shifted_silhouette_minus_what_it_covers():
    # A square of half-side 0.78 * 0.25 ~ 0.195 at the centre, shadow shifted right by 0.25, strength 0.5.
    scene = Scene(LIGHT, (square(),), Shadow((0.25, 0.0), strength=0.5))
    image, objects, shadow = render_layers(scene, image_size=40)
    row = 20
    assert (image[row, 34] == 100).all()  # x = 0.86: shadow only, floor 200 darkened by half
    assert (image[row, 2] == 200).all()  # far left: floor
    assert objects[0, row, 20] and not shadow[row, 20]  # under the object: the object, not its shadow
    assert shadow[row, 34] and not shadow[row, 2] and not shadow[5, 34]  # above the square: no shadow
    assert not (shadow & objects[0]).any()
    # Without a shadow the same scene renders exactly as before and the shadow mask is empty.
    plain, plain_objects, none = render_layers(Scene(LIGHT, (square(),)), 40)
    np.testing.assert_array_equal(plain, render_scene(Scene(LIGHT, (square(),)), 40)[0])
    np.testing.assert_array_equal(plain_objects, objects)
    assert not none.any()
    # Overlapping shadows darken once, not twice.
    two = Scene(LIGHT, (square(x=0.3, size=0.12), square(x=0.55, size=0.12)), Shadow((0.2, 0.0), 0.5))
    image, _, shadow = render_layers(two, 40)
    assert image[shadow].min() >= 99
    with pytest.raises(ConfigError, match="strength"):
        Shadow((0.1, 0.1), strength=1.0)


def test_shapes_segmentation_targets_and_splits():
    objects = ShapesSegmentationDataset("objects", "val200", num_samples=6)
    image, mask = objects[0]
    assert image.shape == (3, 64, 64) and mask.shape == (64, 64) and mask.dtype == torch.int64
    assert objects.num_classes == 2 and set(mask.unique().tolist()) <= {0, 1} and mask.sum() > 0
    shadows = ShapesSegmentationDataset("shadows", "val200", shadows=True, num_samples=6)
    shapes = ShapesSegmentationDataset("shapes", "val200", num_samples=6)
    assert shapes.num_classes == 1 + len(SHAPES)
    for i in range(6):
        scene = shapes.scene(i)
        assert shadows.scene(i).objects == scene.objects  # the same objects whatever the target
        classes = set(shapes[i][1].unique().tolist()) - {0}
        assert classes <= {1 + SHAPES.index(o.shape) for o in scene.objects}
        assert not (shadows[i][1].bool() & ShapesSegmentationDataset("objects", "val200", shadows=True)[i][1].bool()).any()
    assert sum(int(shadows[i][1].sum()) for i in range(6)) > 0
    # Splits are disjoint streams; the same item is the same image in every run.
    assert not torch.equal(ShapesSegmentationDataset(split="test")[0][0], objects[0][0])
    torch.testing.assert_close(ShapesSegmentationDataset("objects", "val200")[3][0], objects[3][0])
    with pytest.raises(ConfigError, match="shadows=True"):
        ShapesSegmentationDataset("shadows")
    with pytest.raises(ConfigError, match="target"):
        ShapesSegmentationDataset("edges")
    with pytest.raises(TypeError, match="masks"):
        objects.label(0)


def test_geometric_augmentation_moves_the_mask_with_the_image():
    ds = ShapesSegmentationDataset("objects", "val200", num_samples=4,
                                   transform=[dict(type="HorizontalFlip", p=1.0), dict(type="Resize", height=32, width=32)])
    plain = ShapesSegmentationDataset("objects", "val200", num_samples=4)
    image, mask = ds[1]
    assert image.shape == (3, 32, 32) and mask.shape == (32, 32)
    expected = torch.nn.functional.interpolate(plain[1][1].flip(-1)[None, None].float(), size=32, mode="nearest")
    assert (mask == expected[0, 0].long()).float().mean() > 0.97
    assert set(mask.unique().tolist()) <= {0, 1}


@pytest.fixture
def mask_folder(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    (images / "sub").mkdir(parents=True)
    masks.joinpath("sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for stem in ("a", "b", "sub/c"):
        Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(images / f"{stem}.jpg")
    binary = np.zeros((12, 16), np.uint8)
    binary[2:6, 3:9] = 255
    binary[6, 3] = 100  # an anti-aliased edge pixel: rounds to background
    Image.fromarray(binary).save(masks / "a.png")
    Image.fromarray((binary == 255).astype(np.uint8)).save(masks / "b.png")  # 0/1 mask
    Image.fromarray((binary == 255).astype(np.uint8)).save(masks / "sub" / "c.png")
    return tmp_path


def test_mask_folder_reads_binary_masks_in_both_encodings(mask_folder):
    ds = MaskFolderDataset(mask_folder / "images", mask_folder / "masks")
    assert len(ds) == 3 and ds.class_names == ["background", "foreground"]
    for i in range(3):
        image, mask = ds[i]
        assert image.shape == (3, 12, 16) and mask.shape == (12, 16)
        assert mask.sum() == 24 and mask[2, 3] == 1 and mask[6, 3] == 0
    (mask_folder / "split.txt").write_text("b\nsub/c\n")
    assert len(MaskFolderDataset(mask_folder / "images", mask_folder / "masks", list_file=mask_folder / "split.txt")) == 2


def test_mask_folder_class_index_and_palette_masks(mask_folder):
    labels = np.zeros((12, 16), np.uint8)
    labels[:, 8:] = 2
    labels[0, 0] = 255  # ignore
    Image.fromarray(labels).save(mask_folder / "masks" / "a.png")
    palette = Image.fromarray(labels, mode="L").convert("P")
    palette.save(mask_folder / "masks" / "b.png")
    Image.fromarray(labels).save(mask_folder / "masks" / "sub" / "c.png")
    ds = MaskFolderDataset(mask_folder / "images", mask_folder / "masks", num_classes=3,
                           class_names=["bg", "x", "y"])
    for i in range(3):
        mask = ds[i][1]
        assert set(mask.unique().tolist()) == {0, 2, 255}
    labels[3, 3] = 7
    Image.fromarray(labels).save(mask_folder / "masks" / "a.png")
    with pytest.raises(ConfigError, match=r"a\.png.*\[7\]"):
        ds.load(0)


def test_mask_folder_errors_name_the_files(mask_folder):
    (mask_folder / "masks" / "b.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"b\.png"):
        MaskFolderDataset(mask_folder / "images", mask_folder / "masks")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        MaskFolderDataset(mask_folder / "nowhere", mask_folder / "masks")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(mask_folder / "masks" / "b.png")
    ds = MaskFolderDataset(mask_folder / "images", mask_folder / "masks")
    with pytest.raises(ConfigError, match=r"b\.png.*5x5.*16x12"):
        ds.load(1)
