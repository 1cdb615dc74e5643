"""Video clip IO (frame folders, GIF, MP4), frame sampling and resizing, and the two clip datasets."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from visadapt.data import (ShapesClipDataset, UnreadableVideoError, VideoFileDataset, read_video, resize_frames,
                           sample_frames, write_frame_strip, write_gif, write_mp4)
from visadapt.data.video_io import natural_key
from visadapt.registry import DATASETS, ConfigError

pytest.importorskip("av")

BACKGROUND, RED, BLUE = (20, 20, 20), (220, 40, 40), (40, 80, 230)


def blocks_clip(num_frames: int = 6, height: int = 24, width: int = 32) -> np.ndarray:
    """Flat colour blocks (what codecs keep well away from edges); the blue one moves right 2 px a frame."""
    frames = np.full((num_frames, height, width, 3), BACKGROUND, np.uint8)
    frames[:, 2:12, 2:12] = RED
    for t in range(num_frames):
        frames[t, 14:22, 4 + 2 * t:12 + 2 * t] = BLUE
    return frames


def foreground_centroid(frame: np.ndarray, background: np.ndarray) -> tuple[float, float]:
    """(x, y) mean position of the pixels that differ from the background frame."""
    ys, xs = np.nonzero(np.abs(frame.astype(int) - background.astype(int)).sum(axis=2) > 30)
    return float(xs.mean()), float(ys.mean())


# ---------------------------------------------------------------- writing and reading files


def test_gif_round_trip_keeps_every_frame_and_its_colours(tmp_path):
    frames = blocks_clip()
    frames[3] = frames[2]  # a still moment: Pillow's own GIF writer would merge these two into one frame
    write_gif(frames, tmp_path / "sub" / "clip.gif", fps=8)
    back = read_video(tmp_path / "sub" / "clip.gif")
    assert back.shape == frames.shape and back.dtype == np.uint8
    # Three colours fit a 256-colour palette exactly, so the GIF is lossless here.
    np.testing.assert_array_equal(back, frames)


def test_gif_of_many_colours_is_close_through_its_palette(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    write_gif(frames, tmp_path / "noise.gif")
    back = read_video(tmp_path / "noise.gif")
    # 768 random colours into 256 palette entries: median cut leaves each channel within ~16 levels on average.
    assert back.shape == frames.shape and np.abs(back.astype(int) - frames).mean() < 16


def test_mp4_round_trip_is_close_and_odd_sizes_are_padded_to_even(tmp_path):
    frames = blocks_clip(height=23, width=31)
    write_mp4(frames, tmp_path / "clip.mp4", fps=8)
    back = read_video(tmp_path / "clip.mp4")
    assert back.shape == (6, 24, 32, 3)  # padded by repeating the last row and column
    error = np.abs(back[:, :23, :31].astype(int) - frames)
    # H.264 at CRF 18 is lossy and yuv420p keeps colour at half resolution, so colour edges blur a few pixels
    # (large errors there): the mean stays within a few levels, and block interiors within a few more.
    assert error.mean() < 6
    assert np.abs(back[:, 4:10, 4:10].astype(int) - np.array(RED)).max() < 12
    # The padded row repeats the last one (up to the codec's loss).
    assert np.abs(back[:, 23, :31].astype(int) - back[:, 22, :31]).max() < 12


def test_frame_strip_puts_frames_side_by_side(tmp_path):
    frames = blocks_clip(num_frames=3)
    write_frame_strip(frames, tmp_path / "strip.png")
    strip = np.asarray(Image.open(tmp_path / "strip.png"))
    np.testing.assert_array_equal(strip, np.concatenate(list(frames), axis=1))
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file



def test_write_clip_keeps_one_clip_as_gif_mp4_and_strip_from_a_tensor(tmp_path):
    from visadapt.data.video_base import frames_to_tensor, tensor_to_frames
    from visadapt.data.video_io import write_clip

    frames = blocks_clip(num_frames=4)
    tensor = frames_to_tensor(frames)
    tensor[0, 0, 0, 0] = 1.5  # out of range (a sampler's overshoot) is clamped, not wrapped around
    back = tensor_to_frames(tensor)
    assert back[0, 0, 0, 0] == 255
    np.testing.assert_array_equal(back[1:], frames[1:])
    paths = write_clip(frames, tmp_path / "edit", "video", fps=8)
    assert {k: p.name for k, p in paths.items()} == {"gif": "video.gif", "mp4": "video.mp4", "strip": "video.png"}
    np.testing.assert_array_equal(read_video(paths["gif"]), frames)
    assert read_video(paths["mp4"]).shape == frames.shape
    np.testing.assert_array_equal(np.asarray(Image.open(paths["strip"])), np.concatenate(list(frames), axis=1))

@pytest.mark.parametrize("bad", [np.zeros((4, 8, 8), np.uint8), np.zeros((2, 8, 8, 3), np.float32),
                                 np.zeros((0, 8, 8, 3), np.uint8)])
def test_writers_refuse_what_is_not_uint8_t_h_w_3(tmp_path, bad):
    with pytest.raises(ValueError, match=r"write_gif '.*bad\.gif': expected frames as a uint8 array \[T, H, W, 3\]"):
        write_gif(bad, tmp_path / "bad.gif")
    assert not (tmp_path / "bad.gif").exists()


def test_frames_folder_reads_in_natural_order(tmp_path):
    for i in (10, 2, 1, 9):
        Image.fromarray(np.full((4, 6, 3), i, np.uint8)).save(tmp_path / f"frame{i}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    frames = read_video(tmp_path)
    assert frames.shape == (4, 4, 6, 3)
    assert frames[:, 0, 0, 0].tolist() == [1, 2, 9, 10]
    assert sorted(["f10", "f9", "f1"], key=natural_key) == ["f1", "f9", "f10"]


def test_folder_of_mixed_sizes_names_the_first_odd_frame(tmp_path):
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / "0.png")
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / "1.png")
    Image.fromarray(np.zeros((5, 6, 3), np.uint8)).save(tmp_path / "2.png")
    with pytest.raises(UnreadableVideoError, match=r"frame '.*2\.png' is 6x5 but the first frame '.*0\.png' is 6x4"):
        read_video(tmp_path)


def test_corrupt_frame_is_named(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "frame1.png")
    jpeg = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(jpeg, format="JPEG")
    (tmp_path / "frame2.jpg").write_bytes(jpeg.getvalue()[:20])
    with pytest.raises(UnreadableVideoError, match=r"cannot read frame '.*frame2\.jpg'"):
        read_video(tmp_path)


@pytest.mark.parametrize("name", ["clip.mp4", "clip.gif"])
def test_corrupt_video_file_is_named_with_what_was_expected(tmp_path, name):
    (tmp_path / name).write_bytes(b"this is not a video")
    with pytest.raises(UnreadableVideoError, match=rf"cannot read '.*{name}': expected"):
        read_video(tmp_path / name)


def test_empty_folder_missing_path_and_unknown_extension(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no frames here")
    with pytest.raises(FileNotFoundError, match=r"no frames \(.*\) in folder '.*empty'"):
        read_video(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"'.*missing\.mp4' does not exist"):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "clip.flv").write_bytes(b"\0")
    with pytest.raises(ValueError, match=r"'.*clip\.flv' has extension '\.flv'; expected"):
        read_video(tmp_path / "clip.flv")


# ---------------------------------------------------------------- sampling and resizing


def test_sample_frames_takes_start_plus_multiples_of_stride():
    frames = np.arange(10, dtype=np.uint8)[:, None, None, None].repeat(3, axis=3)
    assert sample_frames(frames, 3, stride=2, start=1)[:, 0, 0, 0].tolist() == [1, 3, 5]
    assert sample_frames(frames, 4, stride=3, start=0)[:, 0, 0, 0].tolist() == [0, 3, 6, 9]  # exactly enough
    assert sample_frames(frames, 1, start=9)[:, 0, 0, 0].tolist() == [9]
    out = sample_frames(frames, 2)
    out[:] = 99
    assert frames[0, 0, 0, 0] == 0  # a copy, not a view


def test_sample_frames_errors_say_how_many_frames_are_needed():
    frames = np.zeros((10, 2, 2, 3), np.uint8)
    with pytest.raises(ConfigError, match=r"the video has 10 frames but start=2, stride=3, num_frames=4 need 12"):
        sample_frames(frames, 4, stride=3, start=2)
    with pytest.raises(ConfigError, match=r"'stride' must be an int >= 1, got 0"):
        sample_frames(frames, 2, stride=0)
    with pytest.raises(ConfigError, match=r"'num_frames' must be an int >= 1, got 2.5"):
        sample_frames(frames, 2.5)


def test_resize_frames_centre_crops_the_same_square_from_every_frame():
    frames = np.zeros((2, 4, 8, 3), np.uint8)
    frames[:, :, 2:6] = 200  # the centre 4x4 square; the side columns are cropped away
    frames[1, :, 2:6] = 100
    out = resize_frames(frames, 4)
    assert out.shape == (2, 4, 4, 3)
    assert (out[0] == 200).all() and (out[1] == 100).all()
    small = resize_frames(np.full((1, 6, 6, 3), 77, np.uint8), 3)
    assert small.shape == (1, 3, 3, 3) and (small == 77).all()  # bicubic keeps a flat image flat


# ---------------------------------------------------------------- the shapes clip


def test_shapes_clip_items_caption_and_determinism():
    clip = ShapesClipDataset(repeats=3)
    assert len(clip) == 3 and clip.caption == "a red circle moving left to right on a dark background"
    frames, caption = clip[0]
    assert frames.shape == (8, 3, 32, 32) and frames.dtype == torch.float32 and caption == clip.caption
    assert 0.0 <= float(frames.min()) and float(frames.max()) <= 1.0
    torch.testing.assert_close(frames, torch.from_numpy(clip.frames()).permute(0, 3, 1, 2).float() / 255)
    torch.testing.assert_close(clip[5][0], frames)  # any epoch's index gives the same clip
    np.testing.assert_array_equal(ShapesClipDataset(repeats=3).frames(), clip.frames())
    other = ShapesClipDataset(background=None, data_seed=1)
    assert not np.array_equal(other.frames(), clip.frames())


def test_shapes_clip_moves_left_to_right():
    clip = ShapesClipDataset(motion="move", image_size=32)
    frames = clip.frames()
    background = np.broadcast_to(frames[0, 0, 0], frames[0].shape)
    xs = [foreground_centroid(f, background)[0] for f in frames]
    assert all(b > a for a, b in zip(xs, xs[1:]))
    # Centre x runs 0.25 -> 0.75 of 32 pixels: 8 -> 24, less half a pixel (pixel centres sit at i + 0.5).
    assert xs[0] == pytest.approx(7.5, abs=0.5) and xs[-1] == pytest.approx(23.5, abs=0.5)


def test_shapes_clip_rotates_the_arrow_counter_clockwise():
    frames = ShapesClipDataset(shape="arrow", motion="rotate", image_size=32).frames()
    covered = np.abs(frames.astype(int) - frames[0, 0, 0].astype(int)).sum(axis=3) > 30  # [T, H, W]
    # The arrow (radius 6.4 px, centre at 16, 16) is wide at its head just in front of the centre (1.3 radii
    # across) and narrow along its shaft behind (0.5 radii): where the wide part lies is where it points.
    # At 0 degrees it points right: column 17 (head) is covered over more rows than column 13 (shaft).
    assert covered[0, :, 17].sum() > covered[0, :, 13].sum() + 2
    # At 90 degrees (counter-clockwise) it points up: row 14 (head, y runs down) is wider than row 19.
    assert covered[-1, 14, :].sum() > covered[-1, 19, :].sum() + 2
    assert all((a != b).any() for a, b in zip(frames, frames[1:]))  # it turns in every frame


def test_shapes_clip_grows_and_recolours():
    frames = ShapesClipDataset(shape="circle", motion="scale", image_size=32).frames().astype(float)
    # Edges are box-filtered, so a pixel's red channel is linear in how much of it the red circle covers.
    red = frames[..., 0]
    background = red[:, 0, 0][:, None, None]
    areas = ((red - background) / (220 - background)).sum(axis=(1, 2))
    assert all(b > a for a, b in zip(areas, areas[1:]))
    # Radius 0.15 -> 0.35 of 32 px: pi * 4.8^2 = 72.4 -> pi * 11.2^2 = 394.1 square pixels.
    assert areas[0] == pytest.approx(np.pi * 4.8**2, rel=0.03)
    assert areas[-1] == pytest.approx(np.pi * 11.2**2, rel=0.03)
    clip = ShapesClipDataset(motion="recolor", color="red", color_to="green", num_frames=6)
    assert clip.caption == "a red circle turning green on a dark background"
    centres = clip.frames()[:, 16, 16].tolist()
    assert centres == [[220, 40, 40]] * 3 + [[40, 175, 60]] * 3


def test_shapes_clip_refuses_bad_arguments():
    with pytest.raises(ConfigError, match=r"unknown motion 'spin'; expected one of move, rotate, scale, recolor"):
        ShapesClipDataset(motion="spin")
    with pytest.raises(ConfigError, match=r"'rotate' with shape 'circle' gives a still clip"):
        ShapesClipDataset(motion="rotate")
    with pytest.raises(ConfigError, match=r"'num_frames' must be an int >= 2, got 1"):
        ShapesClipDataset(num_frames=1)
    with pytest.raises(ConfigError, match=r"unknown background 'sky'"):
        ShapesClipDataset(background="sky")
    with pytest.raises(ConfigError, match=r"template '\{object\} in \{place\}' cannot be filled"):
        ShapesClipDataset(template="{object} in {place}")
    with pytest.raises(ConfigError, match=r"'transform' must be None for a clip"):
        ShapesClipDataset(transform=[dict(type="HorizontalFlip")])


def test_clip_datasets_build_from_the_registry():
    clip = DATASETS.build(dict(type="ShapesClipDataset", shape="arrow", motion="rotate", num_frames=4,
                               image_size=16), seed=0, transform=None)
    assert clip[0][0].shape == (4, 3, 16, 16) and clip.caption == "a red arrow rotating on a dark background"


# ---------------------------------------------------------------- a user's clip


def test_video_file_dataset_on_a_gif(tmp_path):
    frames = np.zeros((10, 24, 40, 3), np.uint8)
    frames[:, :, 8:32] = np.arange(10, dtype=np.uint8)[:, None, None, None] * 20  # the centre square's shade = t
    write_gif(frames, tmp_path / "clip.gif")
    data = VideoFileDataset(tmp_path / "clip.gif", caption="a grey square fading in", num_frames=4, stride=3,
                            image_size=12, repeats=2)
    assert len(data) == 2
    clip, caption = data[1]
    assert clip.shape == (4, 3, 12, 12) and caption == "a grey square fading in"
    assert (data.frames()[:, 6, 6, 0] == [0, 60, 120, 180]).all()  # frames 0, 3, 6, 9, cropped to the square
    with pytest.raises(ConfigError, match=r"VideoFileDataset '.*clip\.gif': .*the video has 10 frames but start=0, "
                                          r"stride=2, num_frames=8 need 15"):
        VideoFileDataset(tmp_path / "clip.gif", caption="x", stride=2)
    with pytest.raises(ConfigError, match="'caption' must be a non-empty string"):
        VideoFileDataset(tmp_path / "clip.gif", caption=" ")
    with pytest.raises(FileNotFoundError, match=r"'.*nowhere\.gif' does not exist"):
        VideoFileDataset(tmp_path / "nowhere.gif", caption="x")
