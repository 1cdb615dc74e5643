import numpy as np
import pytest

from visadapt.data import build_transforms
from visadapt.registry import TRANSFORMS, ConfigError


def test_no_specs_means_no_transform():
    assert build_transforms(None) is None
    assert build_transforms([]) is None


def test_albumentations_names_build_a_working_pipeline():
    compose = build_transforms([dict(type="Resize", height=20, width=24), dict(type="HorizontalFlip", p=1.0)])
    image = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    out = compose(image=image)["image"]
    assert out.shape == (20, 24, 3) and out.dtype == np.uint8


def test_nested_compose_builds_its_children():
    compose = build_transforms([dict(type="OneOf", p=1.0, transforms=[dict(type="VerticalFlip", p=1.0)])])
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    np.testing.assert_array_equal(compose(image=image)["image"], image[::-1])


def test_unknown_name_lists_close_matches():
    with pytest.raises(ConfigError, match="HorizontalFlipp") as err:
        build_transforms([dict(type="HorizontalFlipp")])
    assert "HorizontalFlip" in str(err.value).split("Close matches:")[1]


def test_bad_keyword_names_transform_and_accepted_arguments():
    with pytest.raises(ConfigError, match="transform 'Resize'") as err:
        build_transforms([dict(type="Resize", heigth=32, width=32)])
    assert "did you mean 'height'" in str(err.value) and "Accepted: height, width" in str(err.value)


def test_bad_value_names_transform():
    with pytest.raises(ConfigError, match="transform 'HorizontalFlip' rejected arguments"):
        build_transforms([dict(type="HorizontalFlip", p=2.0)])


def test_malformed_specs_are_explained():
    with pytest.raises(ConfigError, match="'type' key"):
        build_transforms([dict(height=3)])
    with pytest.raises(ConfigError, match="list of dicts"):
        build_transforms(dict(type="HorizontalFlip"))
    with pytest.raises(ConfigError, match="'transforms' must be a list"):
        build_transforms([dict(type="OneOf")])


def test_project_transforms_are_looked_up_first(monkeypatch):
    import albumentations as A

    class Invert(A.ImageOnlyTransform):
        def apply(self, img, **params):
            return 255 - img

    monkeypatch.setitem(TRANSFORMS._entries, "HorizontalFlip", Invert)
    compose = build_transforms([dict(type="HorizontalFlip", p=1.0)])
    image = np.zeros((2, 2, 3), np.uint8)
    assert (compose(image=image)["image"] == 255).all()
