"""Prompts from masks: box edges, (x, y) order of sampled points, grid layout."""
from __future__ import annotations

import torch

from visadapt.segmentation.prompts import boxes_from_masks, grid_points, sample_points


def test_box_is_x0_y0_x1_y1_around_the_foreground():
    masks = torch.zeros(2, 6, 8)
    masks[0, 1:3, 4:7] = 1  # rows 1-2, columns 4-6
    assert boxes_from_masks(masks).tolist() == [[4, 1, 7, 3], [0, 0, 8, 6]]  # empty -> whole image


def test_points_are_x_then_y_inside_their_region():
    masks = torch.zeros(1, 6, 8)
    masks[0, 5, 1] = 1  # a single pixel: row 5, column 1
    coords, labels = sample_points(masks, positives=2, negatives=3, generator=torch.Generator().manual_seed(0))
    assert coords[0, :2].tolist() == [[1.5, 5.5], [1.5, 5.5]] and labels[0].tolist() == [1, 1, 0, 0, 0]
    for x, y in coords[0, 2:].tolist():
        assert masks[0, int(y), int(x)] == 0
    _, labels = sample_points(torch.zeros(1, 4, 4), positives=1)
    assert labels.tolist() == [[-1]]


def test_grid_covers_cell_centres():
    coords, labels = grid_points(2, 4, 8, per_side=2)
    assert coords.shape == (2, 4, 2) and labels.eq(1).all()
    assert coords[0].tolist() == [[2, 1], [6, 1], [2, 3], [6, 3]]
