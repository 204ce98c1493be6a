"""Changed-tile detection and covering rectangles."""

from __future__ import annotations

import numpy as np
import pytest

from zvkdiag.screen.tiles import (
    TILE,
    Rect,
    align,
    any_per_tile,
    changed_tiles,
    cover,
    grid_shape,
    inside,
    merge_runs,
    minus,
    tile_rect,
)


@pytest.mark.parametrize(("height", "width"), [(480, 640), (100, 130), (65, 63), (1, 1)])
def test_one_changed_pixel_marks_exactly_its_tile(height: int, width: int) -> None:
    a = np.zeros((height, width, 4), np.uint8)
    for y, x in [(0, 0), (height - 1, width - 1), (height // 2, width // 3)]:
        b = a.copy()
        b[y, x, 1] = 7
        mask = changed_tiles(a, b)
        assert mask.shape == grid_shape(height, width)
        assert list(zip(*np.nonzero(mask), strict=True)) == [(y // TILE, x // TILE)]


@pytest.mark.parametrize(("height", "width"), [(480, 640), (100, 130), (65, 63), (1, 1)])
def test_a_pixel_mask_reduces_to_the_tiles_it_touches(height: int, width: int) -> None:
    rng = np.random.default_rng(height)
    mask = rng.random((height, width)) < 0.0005
    expected = np.zeros(grid_shape(height, width), np.bool_)
    for y, x in np.argwhere(mask).tolist():
        expected[y // TILE, x // TILE] = True
    assert np.array_equal(any_per_tile(mask), expected)


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


def test_align_covers_with_whole_tiles_and_clips_to_the_screen() -> None:
    assert align(Rect(70, 10, 5, 60), 480, 640) == Rect(64, 0, 64, 128)
    assert align(Rect(600, 450, 100, 100), 480, 640) == Rect(576, 448, 64, 32)
    assert align(Rect(-30, -30, 40, 40), 480, 640) == Rect(0, 0, 64, 64)
    off_screen = align(Rect(700, 10, 5, 5), 480, 640)
    assert off_screen.w == 0 or off_screen.h == 0


def test_cover_keeps_far_apart_areas_apart() -> None:
    letter, pointer = Rect(100, 60, 9, 17), Rect(1900, 1060, 24, 24)
    parts, tiles = cover([letter, pointer, Rect(0, 0, 0, 0)], 1080, 1920)
    assert sorted(parts, key=lambda r: r.y) == [Rect(64, 0, 64, 128), Rect(1856, 1024, 64, 56)]
    assert tiles == 2 + 1


def test_cover_joins_overlapping_areas_into_their_tiles() -> None:
    parts, tiles = cover([Rect(10, 10, 100, 20), Rect(60, 20, 30, 100)], 480, 640)
    covered = np.zeros(grid_shape(480, 640), np.bool_)
    for part in parts:
        covered[
            part.y // TILE : -(-(part.y + part.h) // TILE),
            part.x // TILE : -(-(part.x + part.w) // TILE),
        ] = True
    assert covered.sum() == tiles == 4
    assert covered[:2, :2].all()


def _area(rect: Rect) -> int:
    return rect.w * rect.h


def _overlap(a: Rect, b: Rect) -> int:
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return max(w, 0) * max(h, 0)


def test_minus_leaves_outer_whole_when_the_hole_is_elsewhere() -> None:
    outer = Rect(64, 64, 128, 64)
    assert minus(outer, Rect(512, 0, 64, 64)) == [outer]
    assert minus(outer, Rect(192, 64, 64, 64)) == [outer]  # touching is not overlapping
    assert minus(outer, Rect(0, 0, 640, 480)) == []


@pytest.mark.parametrize("seed", range(20))
def test_minus_pieces_cover_exactly_outer_without_the_hole(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(50):
        x, y, w, h = (int(v) for v in rng.integers(0, 200, 4))
        outer = Rect(x, y, w + 1, h + 1)
        x, y, w, h = (int(v) for v in rng.integers(0, 200, 4))
        hole = Rect(x, y, w + 1, h + 1)
        pieces = minus(outer, hole)
        assert len(pieces) <= 4
        assert all(_overlap(p, hole) == 0 and _overlap(p, outer) == _area(p) for p in pieces)
        assert all(_overlap(a, b) == 0 for i, a in enumerate(pieces) for b in pieces[i + 1 :])
        assert sum(map(_area, pieces)) == _area(outer) - _overlap(outer, hole)


def test_one_area_is_covered_as_the_grid_covers_it() -> None:
    """The arithmetic for one area (a typed letter) agrees with the tile grid's answer."""
    rng = np.random.default_rng(4)
    for _ in range(300):
        height, width = int(rng.integers(1, 300)), int(rng.integers(1, 400))
        x, y = int(rng.integers(-80, width + 10)), int(rng.integers(-80, height + 10))
        rect = Rect(x, y, int(rng.integers(0, 200)), int(rng.integers(0, 200)))
        assert cover([rect], height, width) == cover([rect, rect], height, width)


def test_inside_means_wholly_within() -> None:
    outer = Rect(10, 20, 30, 40)
    assert inside(Rect(10, 20, 30, 40), outer)
    assert inside(Rect(15, 25, 5, 5), outer)
    assert not inside(Rect(9, 25, 5, 5), outer)
    assert not inside(Rect(15, 25, 26, 5), outer)  # one pixel past the right edge
    assert not inside(Rect(15, 56, 5, 5), outer)  # one pixel past the bottom
