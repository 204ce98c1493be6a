"""Scroll detection over a stream of frames: the kept row hashes find what a fresh look finds."""

from __future__ import annotations

import numpy as np

from zvkdiag.screen.scroll import ScrollFinder, _hash_rows, find_scroll
from zvkdiag.screen.tiles import Rect, changed_tiles

from .scenes import text_screen


def test_a_finder_that_keeps_row_hashes_finds_every_scroll_a_fresh_look_finds() -> None:
    page = text_screen(2000, 640, seed=3)
    finder = ScrollFinder()
    shown = page[:480].copy()
    found = []
    tops = (16, 48, 48, 96, 100, 148, 148, 148, 400, 416, 416, 432)
    for step, top in enumerate(tops):  # a repeat is a frame without a scroll
        new = page[top : top + 480].copy()
        if step >= 7:  # a letter typed (too few tiles to look for a scroll), then scrolled
            new[200:210, 300:306] = 0 if step == 7 else 128
            new[260:270, 10:16] = 77
        changed = changed_tiles(shown, new)
        kept, fresh = finder.find(shown, new, changed), find_scroll(shown, new, changed)
        assert kept == fresh
        rows = finder._kept  # the invariant the next frame relies on: the hashes of ``new``
        if rows is not None:
            words = new.view(np.uint32)[rows.y0 : rows.y0 + rows.hashes.size, rows.x0 : rows.x1, 0]
            assert np.array_equal(rows.hashes, _hash_rows(words)), f"step {step}"
        found.append(kept)
        shown = new
    assert sum(s is not None for s in found) >= 5


def test_a_forgotten_frame_is_not_mistaken_for_the_last_one() -> None:
    page = text_screen(1200, 640, seed=5)
    finder = ScrollFinder()
    first, second = page[:480].copy(), page[32:512].copy()
    assert finder.find(first, second, changed_tiles(first, second)) is not None
    finder.forget()  # a frame it did not see: the screen changed all over meanwhile
    third, fourth = page[600:1080].copy(), page[632:1112].copy()
    scroll = finder.find(third, fourth, changed_tiles(third, fourth))
    assert scroll is not None and scroll.dy == 32
    assert np.array_equal(
        fourth[scroll.y : scroll.y + scroll.h], third[scroll.y + 32 : scroll.y + 32 + scroll.h]
    )


def test_a_compare_the_caller_made_serves_for_the_changed_columns() -> None:
    """With ``differs`` the changed columns come from the caller's compare, not a new one:
    the same scroll when it is the true compare; none when it says nothing changed."""
    page = text_screen(1200, 640, seed=7)
    old, new = page[:480].copy(), page[40:520].copy()
    changed = changed_tiles(old, new)
    differs = (old != new).any(axis=2)

    def compared(rect: Rect) -> np.ndarray:
        return differs[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w]

    def nothing(rect: Rect) -> np.ndarray:
        return np.zeros((rect.h, rect.w), np.bool_)

    found = ScrollFinder().find(old, new, changed, differs=compared)
    assert found is not None and found == find_scroll(old, new, changed)
    assert ScrollFinder().find(old, new, changed, differs=nothing) is None
