"""The cursor blend without an X server: clipping and alpha arithmetic."""

from __future__ import annotations

import numpy as np

from zvkdiag.screen.capture import blend_cursor


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
