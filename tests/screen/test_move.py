"""Move detection: a dragged window is found with its offset, a background is not taken for it."""

from __future__ import annotations

import numpy as np
import pytest

from zvkdiag.screen.move import find_move
from zvkdiag.screen.tiles import changed_tiles

from .scenes import photo_patch, text_screen

WINDOW = (180, 260)  # height, width


def desktop(height: int = 512, width: int = 768) -> np.ndarray:
    """A vertical gradient: every row one colour, so it also matches itself shifted sideways."""
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 2] = (np.arange(height) * 200 // height)[:, None]
    pixels[..., 1] = 60
    return pixels


def window() -> np.ndarray:
    picture = text_screen(*WINDOW, seed=5)
    picture[100:170, 150:250] = photo_patch(70, 100)
    return picture


def with_window(x: int, y: int) -> np.ndarray:
    screen = desktop()
    screen[y : y + WINDOW[0], x : x + WINDOW[1]] = window()
    return screen


@pytest.mark.parametrize(("dx", "dy"), [(7, -5), (-6, 0), (0, 9), (12, 12), (-40, 30)])
def test_a_dragged_window_is_found_where_it_went_and_where_it_came_from(dx: int, dy: int) -> None:
    old, new = with_window(200, 150), with_window(200 + dx, 150 + dy)
    move = find_move(old, new, changed_tiles(old, new))
    assert move is not None
    assert (move.dx, move.dy) == (-dx, -dy)
    assert move.x <= 200 + dx and move.x + move.w >= 200 + dx + WINDOW[1]  # the window, and
    assert move.y <= 150 + dy and move.y + move.h >= 150 + dy + WINDOW[0]  # what matches beside
    moved = new[move.y : move.y + move.h, move.x : move.x + move.w]
    source = old[move.y + move.dy : move.y + move.dy + move.h, move.x + move.dx :][:, : move.w]
    assert np.array_equal(moved, source)


def test_a_gradient_that_matches_shifted_does_not_cut_the_window() -> None:
    """Sideways, the gradient around the window matches too; the move is the window, whole."""
    old, new = with_window(100, 150), with_window(94, 150)
    other = text_screen(300, 200, seed=9)  # a window that stays where it is, right beside
    old[100:400, 420:620] = new[100:400, 420:620] = other
    move = find_move(old, new, changed_tiles(old, new))
    assert move is not None and (move.dx, move.dy) == (6, 0)
    assert move.x <= 94 and move.x + move.w >= 94 + WINDOW[1]
    assert move.y <= 150 and move.y + move.h >= 150 + WINDOW[0]


def test_nothing_moved_or_nothing_to_recognise_is_no_move() -> None:
    still = with_window(200, 150)
    assert find_move(still, still.copy(), changed_tiles(still, still)) is None
    flat = desktop()
    lighter = flat.copy()
    lighter[100:400, 100:500, 1] = 90  # a big change without any pattern to follow
    assert find_move(flat, lighter, changed_tiles(flat, lighter)) is None
