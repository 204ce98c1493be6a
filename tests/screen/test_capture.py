"""Without an X server: the cursor blend (clipping, alpha arithmetic) and the first grab's box."""

from __future__ import annotations

import numpy as np

from zvkdiag.screen.capture import blend_cursor
from zvkdiag.screen.tiles import Rect, compact_box


def cursor_image() -> np.ndarray:
    cursor = np.zeros((4, 4, 4), np.uint8)
    cursor[..., :3] = 200
    cursor[0, :, 3] = 255  # opaque row
    cursor[1, :, 3] = 128  # half transparent row
    return cursor  # rows 2-3 fully transparent


def test_opaque_copied_translucent_mixed_transparent_untouched() -> None:
    pixels = np.full((10, 10, 4), 100, np.uint8)
    blend_cursor(pixels, cursor_image(), 3, 5)
    assert (pixels[5, 3:7, :3] == 200).all()
    assert (pixels[6, 3:7, :3] == int(200 * (128 / 255) + 100 * (1 - 128 / 255))).all()
    assert (pixels[7:9, 3:7] == 100).all()
    assert (pixels[:5] == 100).all() and (pixels[:, :3] == 100).all()


def test_cursor_at_the_edges_is_clipped() -> None:
    pixels = np.full((10, 10, 4), 100, np.uint8)
    blend_cursor(pixels, cursor_image(), -2, -1)  # top-left, partly outside
    assert (pixels[0, 0:2, :3] == int(200 * (128 / 255) + 100 * (1 - 128 / 255))).all()
    blend_cursor(pixels, cursor_image(), 8, 9)
    assert (pixels[9, 8:10, :3] == 200).all()
    blend_cursor(pixels, cursor_image(), 50, 50)  # entirely outside: nothing happens


def test_one_drawn_area_is_grabbed_first_as_its_tiles() -> None:
    assert compact_box([Rect(803, 42, 927, 799)], 1080, 1920) == Rect(768, 0, 1024, 896)


def test_neighbouring_areas_share_one_box() -> None:
    scrolled, status_line = Rect(803, 42, 927, 799), Rect(803, 898, 927, 19)
    assert compact_box([scrolled, status_line], 1080, 1920) == Rect(768, 0, 1024, 960)


def test_far_apart_areas_give_no_box() -> None:
    letter, clock = Rect(100, 60, 9, 17), Rect(1800, 1050, 40, 17)
    assert compact_box([letter, clock], 1080, 1920) == Rect(0, 0, 0, 0)


def test_nothing_drawn_gives_no_box() -> None:
    assert compact_box([], 1080, 1920) == Rect(0, 0, 0, 0)
    assert compact_box([Rect(5, 5, 0, 10)], 1080, 1920) == Rect(0, 0, 0, 0)
    assert compact_box([Rect(2000, 5, 10, 10)], 1080, 1920).w == 0  # off the screen
