"""The PNGs the tools write: legends off the data, labels that do not collide, a smoke run marked as one, titled
overlay panels."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tools import benchmark_peft
from tools import tta as tta_tool
from visadapt.segmentation.overlay import GAP, TITLE_HEIGHT, TITLES, comparison

ROOT = Path(__file__).resolve().parents[2]


def _boxes(fig, artists):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [a.get_window_extent(renderer) for a in artists]


def test_tta_legend_does_not_cover_the_bars():
    batches = [{"domain": d, "size": 64, "error": 100.0} for d in ("gaussian_noise", "fog", "contrast") * 2]
    fig = tta_tool.errors_figure({"batches": batches, "mean_error": 100.0, "method": {"type": "tent"}})
    ax = fig.axes[0]
    legend, axes = _boxes(fig, [ax.get_legend(), ax])
    assert not legend.overlaps(axes)


@pytest.mark.parametrize("quick", [False, True])
def test_benchmark_plot_labels_do_not_overlap_and_a_quick_run_says_so(quick):
    summary = json.loads((ROOT / "benchmarks/results/shapes_vtab/summary.json").read_text())
    fig = benchmark_peft.accuracy_figure(summary, quick=quick)
    ax = fig.axes[0]
    texts = [t for t in ax.texts if t.get_text()] + [ax.get_legend()]
    boxes = _boxes(fig, texts)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert not _boxes(fig, [ax.get_legend()])[0].overlaps(_boxes(fig, [ax])[0])
    assert [t.get_text() for t in ax.get_legend().get_texts()][:len(summary)] == list(summary)
    assert ("QUICK SMOKE RUN" in ax.get_title()) == quick


def test_overlay_panels_have_titles():
    image = torch.full((3, 32, 32), 0.5)
    mask = torch.zeros(32, 32, dtype=torch.long)
    panel = comparison(image, mask, mask)
    strip = panel[:TITLE_HEIGHT].min(axis=2)  # dark pixels = title text on the white strip
    width = (panel.shape[1] - 2 * GAP) // 3
    for k, title in enumerate(TITLES):
        left = k * (width + GAP)
        assert (strip[:, left:left + width] < 128).any(), title
    np.testing.assert_array_equal(panel[TITLE_HEIGHT:, :width], np.full((panel.shape[0] - TITLE_HEIGHT, width, 3), 128))
