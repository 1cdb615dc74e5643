"""Video metrics on hand-made features whose cosines are known: unit axes (cos 0), equal or scaled vectors (1),
opposite ones (-1) and 45-degree ones (1 / sqrt 2)."""
from __future__ import annotations

import math

import pytest
import torch

from visadapt.generation.video_metrics import (frame_consistency, pixel_consistency, textual_faithfulness,
                                               video_scores)

E1, E2, E3 = torch.eye(3)


def test_frame_consistency_known_values():
    assert frame_consistency(torch.stack([E1, 3 * E1, E1])) == pytest.approx(1.0)  # scale does not matter
    assert frame_consistency(torch.stack([E1, E2, E3])) == pytest.approx(0.0)
    assert frame_consistency(torch.stack([E1, -E1])) == pytest.approx(-1.0)
    assert frame_consistency(torch.stack([E1, E1 + E2])) == pytest.approx(1 / math.sqrt(2))


def test_frame_consistency_averages_all_pairs_not_only_neighbours():
    # Pairs (0, 1), (0, 2), (1, 2) have cosines 0, 1, 0: mean 1/3; consecutive pairs only would give 0.
    assert frame_consistency(torch.stack([E1, E2, E1])) == pytest.approx(1 / 3)
    # Four frames, six pairs, one of them (0, 3) alike: 1/6.
    assert frame_consistency(torch.stack([E1, E2, E3, E1])) == pytest.approx(1 / 6)


def test_frame_consistency_refuses_one_frame_and_zero_features():
    with pytest.raises(ValueError, match=r"needs at least 2 frame\(s\), got features of shape \(1, 3\)"):
        frame_consistency(E1[None])
    with pytest.raises(ValueError, match="all zeros"):
        frame_consistency(torch.stack([E1, torch.zeros(3)]))
    with pytest.raises(ValueError, match=r"expected frame features as a tensor \[F, D\], got \(3,\)"):
        frame_consistency(E1)


def test_textual_faithfulness_is_the_raw_mean_cosine():
    assert textual_faithfulness(torch.stack([E1, E2]), E1) == pytest.approx(0.5)
    assert textual_faithfulness(torch.stack([E1 + E2]), 5 * E1[None]) == pytest.approx(1 / math.sqrt(2))  # [1, D]
    assert textual_faithfulness(torch.stack([-E1, E2]), E1) == pytest.approx(-0.5)  # not clipped at 0, not x100
    with pytest.raises(ValueError, match=r"expected a text feature of shape \[3\] .* got \(4,\)"):
        textual_faithfulness(torch.stack([E1, E2]), torch.ones(4))


def test_pixel_consistency_is_the_mean_absolute_step():
    assert pixel_consistency(torch.full((3, 3, 2, 2), 0.3)) == pytest.approx(0.0)
    flicker = torch.stack([torch.zeros(3, 2, 2), torch.ones(3, 2, 2), torch.zeros(3, 2, 2)])
    assert pixel_consistency(flicker) == pytest.approx(1.0)
    one_pixel = torch.zeros(2, 3, 2, 2)
    one_pixel[1, :, 0, 0] = 0.5  # 3 of the 12 values of the single step change by 0.5
    assert pixel_consistency(one_pixel) == pytest.approx(0.125)
    with pytest.raises(ValueError, match=r"expected pixel values in \[0, 1\], got \[0, 255\]"):
        pixel_consistency(flicker * 255)
    with pytest.raises(ValueError, match=r"\[F, 3, H, W\] with F >= 2, got \(1, 3, 2, 2\)"):
        pixel_consistency(flicker[:1])


def test_video_scores_with_injected_encoders():
    frames = torch.zeros(2, 3, 4, 4)
    frames[0, 0] = 1.0  # red
    frames[1, 1] = 1.0  # green
    scores = video_scores(frames, "red", encode_images=lambda x: x.mean(dim=(2, 3)),
                          encode_texts=lambda texts: torch.stack([E1 if t == "red" else E2 for t in texts]))
    # Mean colours (1, 0, 0) and (0, 1, 0): orthogonal; the prompt matches one of two frames; per step, R and G
    # change by 1 and B by 0.
    assert scores == pytest.approx({"frame_consistency": 0.0, "textual_faithfulness": 0.5,
                                    "pixel_consistency": 2 / 3})
