"""Reading and writing short clips as uint8 ``[T, H, W, 3]`` arrays: frame folders, GIFs and video files.

Video files go through PyAV: its wheels bundle FFmpeg, so nothing is fetched or compiled at run time, it reads
MP4 / WebM / MOV / AVI / MKV and writes H.264. GIFs are read with Pillow (no PyAV needed for them or for frame
folders). GIFs are *written* with PyAV's GIF encoder from a palette Pillow picks over the whole clip, not with
Pillow's GIF writer: that one merges identical consecutive frames into one longer frame, so a clip with a still
moment would read back shorter than it was written. PyAV is imported only where needed, so the rest of visadapt
runs without it (``pip install visadapt[video]``).

Every file is written atomically (``visadapt.atomic.replacing``), its parent folders created.
"""
from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from ..atomic import replacing
from ..registry import ConfigError
from .folder import IMAGE_EXTENSIONS

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".avi", ".mkv")
GIF_EXTENSION = ".gif"
H264_CRF = 18  # x264's "visually lossless" end of the scale: samples are judged, so keep them close to the tensor
_PIL_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


class UnreadableVideoError(ValueError):
    """A frame, GIF or video file that cannot be decoded; the message names the file and what was expected."""


def _import_av():
    try:
        import av
    except ImportError as err:
        raise ImportError("reading and writing video files needs PyAV: pip install 'visadapt[video]' "
                          "(or pip install av)") from err
    return av


def natural_key(name: str) -> list:
    """Sort key that orders digit runs by value: ``frame9`` before ``frame10`` (plain sorting puts it after)."""
    # re.split with a capture group alternates text, digits, text, ... so the types compared always match.
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", name.lower()))]


def check_frames(frames: np.ndarray, where: str) -> np.ndarray:
    """``frames`` itself when it is a uint8 ``[T, H, W, 3]`` array with T >= 1, else a ValueError saying so."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3 \
            or 0 in frames.shape:
        got = f"{frames.dtype} array of shape {tuple(frames.shape)}" if isinstance(frames, np.ndarray) \
            else type(frames).__name__
        raise ValueError(f"{where}: expected frames as a uint8 array [T, H, W, 3] with T, H, W >= 1, got {got}")
    return frames


def _read_image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except _PIL_ERRORS as err:
        raise UnreadableVideoError(f"cannot read frame '{path}': expected an image "
                                   f"({', '.join(IMAGE_EXTENSIONS)}); {type(err).__name__}: {err}") from None


def _read_folder(folder: Path) -> np.ndarray:
    """Frames in natural name order (hidden files skipped). Frames of different sizes are an error naming the
    first one that differs from the first frame: resizing silently would hide a stray image in the folder."""
    paths = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in IMAGE_EXTENSIONS), key=lambda p: (natural_key(p.name), p.name))
    if not paths:
        raise FileNotFoundError(f"read_video: no frames ({', '.join(IMAGE_EXTENSIONS)}) in folder '{folder}'")
    frames = [_read_image(paths[0])]
    for path in paths[1:]:
        frame = _read_image(path)
        if frame.shape != frames[0].shape:
            raise UnreadableVideoError(
                f"read_video: frame '{path}' is {frame.shape[1]}x{frame.shape[0]} but the first frame "
                f"'{paths[0]}' is {frames[0].shape[1]}x{frames[0].shape[0]}; all frames must have one size")
        frames.append(frame)
    return np.stack(frames)


def _read_gif(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            if image.format != "GIF":
                raise ValueError(f"it is a {image.format} image")
            return np.stack([np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)])
    except _PIL_ERRORS as err:
        raise UnreadableVideoError(f"read_video: cannot read '{path}': expected an animated or still GIF; "
                                   f"{type(err).__name__}: {err}") from None


def _read_video_file(path: Path) -> np.ndarray:
    av = _import_av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError("it has no video stream")
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    except (av.error.FFmpegError, ValueError, OSError) as err:
        raise UnreadableVideoError(f"read_video: cannot read '{path}': expected a video file "
                                   f"({', '.join(VIDEO_EXTENSIONS)}); {type(err).__name__}: {err}") from None
    if not frames:
        raise UnreadableVideoError(f"read_video: '{path}' has a video stream but no frames could be decoded")
    return np.stack(frames)


def read_video(path: str | Path) -> np.ndarray:
    """uint8 ``[T, H, W, 3]`` frames of a folder of images, a GIF or a video file (chosen by its extension)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"read_video: '{path}' does not exist; expected a folder of frames, a GIF or a "
                                f"video file ({', '.join(VIDEO_EXTENSIONS)})")
    if path.is_dir():
        return _read_folder(path)
    suffix = path.suffix.lower()
    if suffix == GIF_EXTENSION:
        return _read_gif(path)
    if suffix in VIDEO_EXTENSIONS:
        return _read_video_file(path)
    raise UnreadableVideoError(f"read_video: '{path}' has extension {suffix or '(none)'!r}; expected a folder of "
                               f"frames, {GIF_EXTENSION} or one of {', '.join(VIDEO_EXTENSIONS)}")


def sample_frames(frames: np.ndarray, num_frames: int, stride: int = 1, start: int = 0) -> np.ndarray:
    """Frames ``start, start + stride, ...`` (``num_frames`` of them), as a new array."""
    frames = check_frames(frames, "sample_frames")
    for name, value, low in (("num_frames", num_frames, 1), ("stride", stride, 1), ("start", start, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"sample_frames: '{name}' must be an int >= {low}, got {value!r}")
    needed = start + (num_frames - 1) * stride + 1
    if needed > len(frames):
        raise ConfigError(f"sample_frames: the video has {len(frames)} frames but start={start}, stride={stride}, "
                          f"num_frames={num_frames} need {needed}")
    return frames[start:needed:stride].copy()


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Every frame centre-cropped to a square (the same crop for all) and resized to ``size`` x ``size`` with
    Pillow's bicubic filter, which widens its kernel when shrinking and so does not alias."""
    frames = check_frames(frames, "resize_frames")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ConfigError(f"resize_frames: 'size' must be a positive int, got {size!r}")
    height, width = frames.shape[1:3]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = frames[:, top:top + side, left:left + side]
    if side == size:
        return square.copy()
    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BICUBIC)) for f in square])


def _check_fps(fps: float, where: str) -> Fraction:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction)) or not fps > 0:
        raise ConfigError(f"{where}: 'fps' must be a positive number, got {fps!r}")
    return Fraction(fps).limit_denominator(1001)


def _clip_palette(frames: np.ndarray) -> Image.Image:
    """One 256-colour palette for the whole clip (median cut over all frames side by side), so colours do not
    flicker from frame to frame as they would with a palette per frame."""
    return Image.fromarray(np.concatenate(list(frames), axis=1)).quantize(
        256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def _encode(frames: list, path: Path, container_format: str, codec: str, fps: Fraction, pix_fmt: str,
            options: dict[str, str] | None = None) -> None:
    """Encode PyAV ``VideoFrame``s into ``path`` atomically."""
    av = _import_av()
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, "wb") as f, av.open(f, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, pix_fmt
        for frame in frames:
            container.mux(stream.encode(frame))
        container.mux(stream.encode())  # flush the encoder's delayed frames


def write_gif(frames: np.ndarray, path: str | Path, fps: float = 8) -> None:
    """An endlessly looping GIF of the frames, one palette for the clip (GIF delays are whole hundredths of a
    second, so 8 fps plays at 1 / 0.13 s)."""
    av = _import_av()
    frames = check_frames(frames, f"write_gif '{path}'")
    palette_image = _clip_palette(frames)
    colours = np.asarray(palette_image.getpalette("RGB"), np.uint8).reshape(-1, 3)
    argb = np.zeros((256, 4), np.uint8)  # PyAV takes pal8 palettes as 256 ARGB entries
    argb[:, 0] = 255
    argb[: len(colours), 1:] = colours
    encoded = []
    for frame in frames:
        indices = np.asarray(Image.fromarray(frame).quantize(palette=palette_image, dither=Image.Dither.NONE))
        encoded.append(av.VideoFrame.from_ndarray((np.ascontiguousarray(indices), argb), format="pal8"))
    _encode(encoded, Path(path), "gif", "gif", _check_fps(fps, "write_gif"), "pal8")


def write_mp4(frames: np.ndarray, path: str | Path, fps: float = 8) -> None:
    """An H.264 (libx264, yuv420p, CRF ``H264_CRF``) MP4 that browsers and players open. yuv420p stores colour at
    half resolution, so it needs an even width and height: an odd one is padded by repeating the last row or
    column (pixels are not resampled; the file is then one pixel larger than the frames)."""
    av = _import_av()
    frames = check_frames(frames, f"write_mp4 '{path}'")
    height, width = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    encoded = [av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24") for frame in frames]
    _encode(encoded, Path(path), "mp4", "libx264", _check_fps(fps, "write_mp4"), "yuv420p",
            {"crf": str(H264_CRF)})


def write_frame_strip(frames: np.ndarray, path: str | Path) -> None:
    """A PNG of the frames side by side, left to right in time: a clip at a glance in a report or a diff."""
    frames = check_frames(frames, f"write_frame_strip '{path}'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, "wb") as f:
        Image.fromarray(np.concatenate(list(frames), axis=1)).save(f, format="PNG")


def write_clip(frames: np.ndarray, folder: str | Path, name: str, fps: float = 8) -> dict[str, Path]:
    """``name.gif``, ``name.mp4`` and ``name.png`` (the frame strip) of one clip in ``folder``: the three views a
    generated clip is kept in (players, browsers, a glance). Returns their paths by kind."""
    folder = Path(folder)
    paths = {"gif": folder / f"{name}.gif", "mp4": folder / f"{name}.mp4", "strip": folder / f"{name}.png"}
    write_gif(frames, paths["gif"], fps)
    write_mp4(frames, paths["mp4"], fps)
    write_frame_strip(frames, paths["strip"])
    return paths
