"""The demo's Video tab refuses bad input before anything is trained, with messages that say what is wrong; and
lists only finished video runs. (The tab itself is driven in a browser in test_demo_browser.py.)"""
from __future__ import annotations

import numpy as np
import pytest

from visadapt.demo.video import edit_video, tune_video, tuned_videos
from visadapt.registry import ConfigError


def tune(tmp_path, upload=None, caption="a red circle", method="SimDA", frames=8):
    return tune_video(upload, caption, method, frames, 2, "no_model_is_loaded", 16, tmp_path / "runs")


def test_unknown_method_and_too_few_frames_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="SimDA, Tune-A-Video"):
        tune(tmp_path, method="AnimateDiff")
    with pytest.raises(ConfigError, match="frames must be >= 2"):
        tune(tmp_path, frames=1)
    assert not (tmp_path / "runs").exists()


def test_upload_errors_name_the_file(tmp_path):
    pytest.importorskip("av")
    from visadapt.data.video_io import UnreadableVideoError, write_gif

    broken = tmp_path / "holiday.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(UnreadableVideoError, match="holiday.mp4"):
        tune(tmp_path, upload=broken)
    short = tmp_path / "short.gif"
    write_gif(np.zeros((3, 16, 16, 3), np.uint8), short)
    with pytest.raises(ConfigError, match=r"'short.gif' has 3 frame\(s\), fewer than the 8 asked for"):
        tune(tmp_path, upload=short)
    with pytest.raises(ConfigError, match="caption is empty"):
        tune(tmp_path, upload=short, caption="  ", frames=3)
    assert not (tmp_path / "runs").exists()


def test_empty_edit_prompt_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="edit prompt is empty"):
        edit_video(tmp_path, " ", "", 2, 7.5)


def test_tuned_videos_lists_finished_video_runs_newest_first(tmp_path):
    import os

    for k, name in enumerate(["simda_1", "tune_a_video_2"]):
        export = tmp_path / "video" / name / "20250101_000000" / "adapter" / "adapter_config.json"
        export.parent.mkdir(parents=True)
        export.write_text("{}")
        os.utime(export, (k, k))
    (tmp_path / "video" / "unfinished" / "20250101_000000").mkdir(parents=True)
    image_run = tmp_path / "zwx_1" / "20250101_000000" / "adapter" / "adapter_config.json"
    image_run.parent.mkdir(parents=True)
    image_run.write_text("{}")
    runs = tuned_videos(tmp_path)
    assert list(runs) == ["tune_a_video_2", "simda_1"]
    assert runs["simda_1"] == tmp_path / "video" / "simda_1" / "20250101_000000"


def test_uploaded_clip_is_kept_and_tuned_then_edited(tmp_path, tiny_sd_folder):
    """The upload path end to end on the tiny parts: the run's config points at the kept copy of the clip (so
    ``tools/generate.py RUN --video`` finds it), and an edit writes the clip and the source strip."""
    pytest.importorskip("av")
    from visadapt.config import load_config
    from visadapt.data.video_io import read_video, write_gif

    upload = tmp_path / "my clip.gif"
    write_gif(np.random.default_rng(0).integers(0, 256, (10, 20, 30, 3), dtype=np.uint8), upload)
    run = tune_video(upload, "a noisy clip", "Tune-A-Video", 4, 1, str(tiny_sd_folder), 16, tmp_path / "runs")
    train = load_config(run / "config.py").data.train
    assert train.type == "VideoFileDataset" and train.caption == "a noisy clip" and train.num_frames == 4
    assert read_video(train.path).shape == (10, 20, 30, 3)
    paths, source = edit_video(run, "a blue circle", "", 1, 5.0)
    assert read_video(paths["mp4"]).shape == (4, 16, 16, 3)
    assert source.is_file() and paths["strip"].is_file()
