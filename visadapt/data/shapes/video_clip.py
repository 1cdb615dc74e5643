"""``ShapesClipDataset``: one offline clip of the shapes world and its caption, for one-shot video tuning/editing.

One solid object in the middle of the image does one of four things over the clip:

- ``move``: slides left to right, centre x from 0.25 to 0.75;
- ``rotate``: turns counter-clockwise from 0 to 90 degrees (a circle looks the same at every angle, so it is
  refused; the arrow is the shape without rotational symmetry);
- ``scale``: grows, radius from 0.15 to 0.35;
- ``recolor``: turns from ``color`` to ``color_to`` halfway through.

Captions name the object and background as the shapes captions do (``object_phrase``, ``background_phrase``), the
wording the model-zoo text-to-image model was trained on, plus the motion: "a red circle moving left to right on
a dark background". The clip is a pure function of the arguments.
"""
from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from ...registry import DATASETS, ConfigError
from ..base import check_seed
from ..video_base import VideoClipDataset
from .caption import background_phrase, object_phrase
from .render import render_scene
from .scene import BACKGROUNDS, COLORS, SHAPES, Scene, ShapeObject
from .tasks import sample_background

_STREAM = zlib.crc32(b"video_clip")
MOTIONS = ("move", "rotate", "scale", "recolor")
SIZE = 0.2  # radius while the motion is not scaling: the moving object stays inside the image (0.25 - 0.2 > 0)
MOVE_X = (0.25, 0.75)
ROTATE_DEG = (0.0, 90.0)
SCALE_SIZE = (0.15, 0.35)


@DATASETS.register()
class ShapesClipDataset(VideoClipDataset):
    """``num_frames`` frames at ``image_size`` of a ``color`` ``shape`` doing ``motion`` on a ``background``
    (a background kind, or None to draw one from ``data_seed``), captioned with ``template`` (fields ``object``:
    "a red circle", ``motion``: "moving left to right", ``background``: "a dark background").

    ``data_seed`` fixes the background's shade (and noise); ``repeats`` is the dataset's length.
    """

    def __init__(self, shape: str = "circle", color: str = "red", background: str | None = "dark",
                 motion: str = "move", color_to: str = "blue", num_frames: int = 8, image_size: int = 32,
                 data_seed: int = 0, template: str = "{object} {motion} on {background}", repeats: int = 1,
                 seed: int = 0, transform: list[dict] | None = None):
        super().__init__(repeats=repeats, seed=seed, transform=transform)
        where = "ShapesClipDataset"
        for name, value, allowed in (("shape", shape, SHAPES), ("color", color, tuple(COLORS)),
                                     ("color_to", color_to, tuple(COLORS)), ("motion", motion, MOTIONS)):
            if value not in allowed:
                raise ConfigError(f"{where}: unknown {name} {value!r}; expected one of {', '.join(allowed)}")
        if background is not None and background not in BACKGROUNDS:
            raise ConfigError(f"{where}: unknown background {background!r}; expected None (random) or one of "
                              f"{', '.join(BACKGROUNDS)}")
        if motion == "rotate" and shape == "circle":
            raise ConfigError(f"{where}: motion 'rotate' with shape 'circle' gives a still clip (a circle looks "
                              f"the same at every angle); use e.g. shape='arrow'")
        if motion == "recolor" and color_to == color:
            raise ConfigError(f"{where}: motion 'recolor' needs color_to different from color, both are {color!r}")
        for name, value, low in (("num_frames", num_frames, 2), ("image_size", image_size, 8)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{where}: '{name}' must be an int >= {low}, got {value!r}")
        self.shape, self.color, self.color_to, self.motion = shape, color, color_to, motion
        self.num_frames, self.image_size = num_frames, image_size
        self.data_seed = check_seed(data_seed, f"{where} data_seed")
        self.background = sample_background(np.random.default_rng([self.data_seed, _STREAM]), background)
        motion_words = {"move": "moving left to right", "rotate": "rotating", "scale": "growing",
                        "recolor": f"turning {color_to}"}[motion]
        try:
            self.caption = template.format(object=object_phrase(shape, color), motion=motion_words,
                                           background=background_phrase(self.background.kind))
        except (KeyError, IndexError, ValueError) as err:
            raise ConfigError(f"{where}: template {template!r} cannot be filled ({type(err).__name__}: {err}); "
                              f"its fields are {{object}}, {{motion}} and {{background}}") from None
        self._frames: np.ndarray | None = None

    def scene(self, t: int) -> Scene:
        """Frame ``t``'s scene: the object at fraction ``t / (num_frames - 1)`` of its motion."""
        s = t / (self.num_frames - 1)
        obj = ShapeObject(shape=self.shape, color=self.color, size=SIZE, x=0.5, y=0.5)
        if self.motion == "move":
            obj = dataclasses.replace(obj, x=MOVE_X[0] + s * (MOVE_X[1] - MOVE_X[0]))
        elif self.motion == "rotate":
            obj = dataclasses.replace(obj, angle=ROTATE_DEG[0] + s * (ROTATE_DEG[1] - ROTATE_DEG[0]))
        elif self.motion == "scale":
            obj = dataclasses.replace(obj, size=SCALE_SIZE[0] + s * (SCALE_SIZE[1] - SCALE_SIZE[0]))
        elif 2 * t >= self.num_frames:  # recolor: the second half of the frames
            obj = dataclasses.replace(obj, color=self.color_to)
        return Scene(self.background, (obj,))

    def frames(self) -> np.ndarray:
        """uint8 ``[num_frames, image_size, image_size, 3]``, rendered once; a copy, so callers may change it."""
        if self._frames is None:
            self._frames = np.stack([render_scene(self.scene(t), self.image_size)[0]
                                     for t in range(self.num_frames)])
        return self._frames.copy()
