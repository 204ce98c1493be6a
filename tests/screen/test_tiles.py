"""Changed-tile detection and covering rectangles."""

from __future__ import annotations

import numpy as np
import pytest

from zvkdiag.screen.tiles import TILE, Rect, changed_tiles, grid_shape, merge_runs, tile_rect


@pytest.mark.parametrize(("height", "width"), [(480, 640), (100, 130), (65, 63), (1, 1)])
def test_one_changed_pixel_marks_exactly_its_tile(height: int, width: int) -> None:
    a = np.zeros((height, width, 4), np.uint8)
    for y, x in [(0, 0), (height - 1, width - 1), (height // 2, width // 3)]:
        b = a.copy()
        b[y, x, 1] = 7
        mask = changed_tiles(a, b)
        assert mask.shape == grid_shape(height, width)
        assert list(zip(*np.nonzero(mask), strict=True)) == [(y // TILE, x // TILE)]


def test_identical_frames_change_nothing() -> None:
    a = np.random.default_rng(0).integers(0, 255, (130, 200, 4), np.uint8)
    assert not changed_tiles(a, a.copy()).any()


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="differ"):
        changed_tiles(np.zeros((10, 10, 4), np.uint8), np.zeros((10, 12, 4), np.uint8))


def test_edge_tiles_are_clipped() -> None:
    assert tile_rect(1, 2, 100, 150) == Rect(128, 64, 22, 36)


def covered(rects: list[Rect], height: int, width: int) -> np.ndarray:
    out = np.zeros((height, width), np.int32)
    for r in rects:
        out[r.y : r.y + r.h, r.x : r.x + r.w] += 1
    return out


def test_merged_rects_cover_exactly_the_changed_tiles_once() -> None:
    rng = np.random.default_rng(5)
    height, width = 300, 500
    mask = rng.random(grid_shape(height, width)) < 0.4
    rects = merge_runs(mask, height, width)
    expected = np.zeros((height, width), np.int32)
    for row, col in np.argwhere(mask):
        r = tile_rect(int(row), int(col), height, width)
        expected[r.y : r.y + r.h, r.x : r.x + r.w] = 1
    assert np.array_equal(covered(rects, height, width), expected)


def test_a_full_screen_is_one_rect() -> None:
    mask = np.ones(grid_shape(1080, 1920), np.bool_)
    assert merge_runs(mask, 1080, 1920) == [Rect(0, 0, 1920, 1080)]
