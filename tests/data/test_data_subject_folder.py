"""SubjectFolderDataset: a user's photos of any size and mode become square RGB images of the model's resolution;
an empty folder or an unreadable file is an error naming it."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from visadapt.data.subject_folder import SubjectFolderDataset
from visadapt.registry import ConfigError

SIZE = 16
RED, BLUE = (255, 0, 0), (0, 0, 255)


def _halves(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2], pixels[:, width // 2:] = RED, BLUE
    return Image.fromarray(pixels).convert(mode)


def test_mixed_sizes_and_modes_become_square_rgb(tmp_path):
    _halves(40, 30).save(tmp_path / "a_rgb.jpg", quality=95)
    _halves(20, 50, "RGBA").save(tmp_path / "b_rgba.png")
    _halves(33, 33, "L").save(tmp_path / "c_gray.png")
    _halves(64, 48, "P").save(tmp_path / "d_palette.png")
    _halves(30, 40, "CMYK").save(tmp_path / "e_cmyk.jpg")
    _halves(24, 24, "1").save(tmp_path / "f_bilevel.bmp")
    Image.fromarray(np.full((20, 28), 40000, np.uint16)).save(tmp_path / "g_16bit.png")
    (tmp_path / "more").mkdir()
    _halves(50, 50).save(tmp_path / "more" / "h_nested.png")  # sub-folders are searched too
    (tmp_path / "c_gray.txt").write_text("zwx, my own caption\n")
    (tmp_path / "notes.md").write_text("not an image")
    dataset = SubjectFolderDataset(tmp_path, trigger="zwx", noun="dog", image_size=SIZE)
    assert [p.name for p in dataset.paths] == ["a_rgb.jpg", "b_rgba.png", "c_gray.png", "d_palette.png",
                                               "e_cmyk.jpg", "f_bilevel.bmp", "g_16bit.png", "h_nested.png"]
    for image in dataset.images:
        assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
    assert dataset.captions[0] == "zwx, a photo of a dog" and dataset.captions[2] == "zwx, my own caption"
    # The centre crop keeps both halves of a landscape RGB photo: red on the left, blue on the right.
    rgb = dataset.images[0].astype(int)
    assert rgb[8, 2, 0] > 200 and rgb[8, 2, 2] < 60 and rgb[8, 13, 2] > 200 and rgb[8, 13, 0] < 60


def test_exif_orientation_is_applied(tmp_path):
    image = _halves(40, 20)
    exif = image.getexif()
    exif[0x0112] = 6  # stored sideways: shown rotated 90 degrees clockwise, the red half on top
    image.save(tmp_path / "sideways.jpg", exif=exif, quality=95)
    (upright,) = SubjectFolderDataset(tmp_path, trigger="zwx", noun="dog", image_size=SIZE).images
    top, bottom = upright[2, 8].astype(int), upright[13, 8].astype(int)
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60, (top, bottom)


def test_empty_or_missing_folder_and_unreadable_file_name_themselves(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "caption.txt").write_text("zwx")
    with pytest.raises(FileNotFoundError, match=r"SubjectFolderDataset: no images \(.*\.jpg.*\) under '.*empty'"):
        SubjectFolderDataset(tmp_path / "empty", trigger="zwx", noun="dog")
    with pytest.raises(FileNotFoundError, match=r"'.*nowhere' is not a folder"):
        SubjectFolderDataset(tmp_path / "nowhere", trigger="zwx", noun="dog")
    (tmp_path / "photos").mkdir()
    _halves(20, 20).save(tmp_path / "photos" / "good.png")
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ConfigError, match=r"cannot read image '.*photos/broken\.jpg'"):
        SubjectFolderDataset(tmp_path / "photos", trigger="zwx", noun="dog", image_size=SIZE)
    with pytest.raises(ConfigError, match=r"template must contain \{trigger\}, got 'a photo of a \{noun\}'"):
        SubjectFolderDataset(tmp_path / "photos", trigger="zwx", noun="dog", template="a photo of a {noun}")
