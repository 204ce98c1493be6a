"""The kernel→browser hop: exact pixels as changed rectangles in one deflated buffer per frame.

Frames are built with the real codec and applied to a real ``Canvas``; a stand-in for the
browser (``FakeBrowserCanvas``, drawing the way screen.js does) must end up with the
canvas' pixels, and the messages must carry no more than what changed.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from zvkdiag.screen.browser import STRIP, BrowserHop
from zvkdiag.screen.codec import (
    Encoding,
    encode_copy,
    encode_jpeg,
    encode_lossless,
    encode_xor,
)
from zvkdiag.screen.frames import Frame, Tile
from zvkdiag.screen.reassemble import Canvas

from .scenes import photo_patch, text_screen
from .test_widget import FakeBrowserCanvas

Pixels = np.ndarray
W, H = 192, 128


def lossless_tiles(pixels: Pixels, size: int = 64) -> tuple[Tile, ...]:
    return tuple(
        Tile(
            x, y, size, size, Encoding.LOSSLESS, encode_lossless(pixels[y : y + size, x : x + size])
        )
        for y in range(0, pixels.shape[0], size)
        for x in range(0, pixels.shape[1], size)
    )


def frame(seq: int, *tiles: Tile, keyframe: bool = False, size: tuple[int, int] = (W, H)) -> Frame:
    return Frame(seq, size[0], size[1], 0.0, keyframe, tiles)


class Pair:
    """A kernel canvas, its hop and the browser it feeds."""

    def __init__(self, *, form: Any = "deflate") -> None:
        self.canvas = Canvas()
        self.hop = BrowserHop(form=form)
        self.browser = FakeBrowserCanvas()
        self.sent = 0

    def show(self, f: Frame) -> tuple[dict[str, Any], list[bytes]]:
        self.canvas.apply(f)
        content, buffers = self.hop.frame_message(f, self.canvas, wire_bytes=1)
        self.browser.draw(content, buffers)
        self.sent += sum(map(len, buffers))
        return content, buffers

    def exact(self) -> bool:
        return bool(np.array_equal(self.browser.pixels, self.canvas.pixels()[..., 2::-1]))


def keyframe(pair: Pair, pixels: Pixels) -> tuple[dict[str, Any], list[bytes]]:
    return pair.show(frame(1, *lossless_tiles(pixels), keyframe=True))


def test_a_typed_letter_travels_as_its_own_rectangle() -> None:
    pair = Pair()
    screen = text_screen(H, W)
    keyframe(pair, screen)
    typed = screen.copy()
    typed[70:82, 100:107, :3] = 0  # a letter inside the tile at (64, 64)
    xor = encode_xor(typed[64:128, 64:128], screen[64:128, 64:128])
    content, buffers = pair.show(frame(2, Tile(64, 64, 64, 64, Encoding.XOR, xor)))
    changed = (typed[64:128, 64:128, :3] != screen[64:128, 64:128, :3]).any(axis=2)
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    x, y = 64 + cols[0], 64 + rows[0]
    w, h = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
    assert content["tiles"] == [[x, y, w, h, "rgb"]] and w <= 7 and h <= 12
    assert content["rgb"] == w * h + 3 * content["pal"] and len(buffers) == 1  # few colours
    assert pair.exact()


def test_what_the_browser_already_shows_is_not_sent() -> None:
    pair = Pair()
    screen = text_screen(H, W)
    keyframe(pair, screen)
    content, buffers = pair.show(frame(2, *lossless_tiles(screen)))
    assert content["tiles"] == [] and buffers == [] and "rgb" not in content


def strips(width: int, height: int) -> list[list[int | str]]:
    """A whole picture's pieces: STRIP wide, column by column."""
    return [
        [x, y, min(STRIP, width - x), 64, "rgb"]
        for x in range(0, width, STRIP)
        for y in range(0, height, 64)
    ]


def test_a_whole_picture_goes_column_by_column() -> None:
    pair = Pair()
    content, buffers = keyframe(pair, text_screen(H, W))
    assert content["tiles"] == strips(W, H)
    assert len(buffers) == 1
    assert pair.exact()


def test_a_repaint_goes_column_by_column_too() -> None:
    pair = Pair()
    screen = text_screen(H, W)
    keyframe(pair, screen)
    repaint = pair.hop.repaint_message(pair.canvas)
    assert repaint is not None
    content, buffers = repaint
    assert [t[:4] for t in content["tiles"]] == [
        [x, 0, min(STRIP, W - x), H] for x in range(0, W, STRIP)
    ]
    pair.browser.draw(content, buffers)
    assert pair.exact()


def test_neighbouring_rectangles_of_a_row_become_one() -> None:
    """Beside a copy (whose order matters), a row's rectangles join and are not cut."""
    pair = Pair()
    screen = text_screen(H, W)
    keyframe(pair, screen)
    changed = screen.copy()
    changed[70:120, :, :3] = 0  # both tiles of the second row change
    changed[0:64, 0:64] = screen[0:64, 64:128]  # and the first tile is the second's copy
    tiles = (
        Tile(0, 0, 64, 64, Encoding.COPY, encode_copy(64, 0)),
        *lossless_tiles(changed)[3:],
    )
    content, _ = pair.show(frame(2, *tiles))
    assert [t[4] for t in content["tiles"]] == ["copy", "rgb"]
    assert content["tiles"][1][:4] == [0, 70, W, 50]
    assert pair.exact()


def test_a_picture_in_strips_takes_fewer_bytes_than_in_rows() -> None:
    """Lines that repeat down a document are out of deflate's reach in whole rows."""
    screen = np.full((512, 1024, 4), 0, np.uint8)
    screen[..., 0] = 200  # a blue desktop
    document = text_screen(512, 300, seed=5)
    for top in range(16, 512, 16):  # the same line again and again, as in a list
        document[top : top + 16] = document[0:16]
    screen[:, 600:900] = document
    pair = Pair()
    _, buffers = pair.show(frame(1, *lossless_tiles(screen), keyframe=True, size=(1024, 512)))
    assert pair.exact()
    words = (screen.view("<u4")[..., 0] & 0xFFFFFF).ravel()
    _, index = np.unique(words, return_inverse=True)
    rows = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    in_rows = len(rows.compress(index.astype(np.uint8).tobytes()) + rows.flush(zlib.Z_SYNC_FLUSH))
    assert len(buffers[-1]) < 0.5 * in_rows, (len(buffers[-1]), in_rows)


def test_a_refined_jpeg_area_is_sent_whole_and_ends_exact() -> None:
    pair = Pair()
    screen = text_screen(H, W)
    keyframe(pair, screen)
    photo = screen.copy()
    photo[0:64, 64:128] = photo_patch(64, 64)
    jpeg = Tile(64, 0, 64, 64, Encoding.JPEG, encode_jpeg(photo[0:64, 64:128]))
    content, buffers = pair.show(frame(2, jpeg))
    assert content["tiles"] == [[64, 0, 64, 64, "jpeg"]] and buffers == [jpeg.payload]
    # the refinement: the browser's JPEG decode is not known, so the whole tile goes
    refined = Tile(64, 0, 64, 64, Encoding.LOSSLESS, encode_lossless(photo[0:64, 64:128]))
    content, _ = pair.show(frame(3, refined))
    assert content["tiles"] == [[64, 0, 64, 64, "rgb"]]
    assert pair.exact()


def test_a_copy_moves_what_the_browser_shows_and_a_repaint_in_between_is_corrected() -> None:
    pair = Pair()
    page = text_screen(2 * H, W, seed=5)
    keyframe(pair, page[:H])
    scrolled = page[32 : 32 + H]  # three lines down: the top 96 rows move up by 32
    f = frame(
        2,
        Tile(0, 0, W, 96, Encoding.COPY, encode_copy(0, 32)),
        *(t for t in lossless_tiles(scrolled) if t.y == 64),
    )
    pair.canvas.apply(f)
    # the browser reopened just now: a repaint from a canvas that already holds frame 2
    pair.browser.draw(*pair.hop.repaint_message(pair.canvas))  # type: ignore[misc]
    content, buffers = pair.hop.frame_message(f, pair.canvas, wire_bytes=1)
    pair.browser.draw(content, buffers)
    assert content["tiles"][0] == [0, 0, W, 96, "copy", 0, 32]
    assert pair.exact()


def test_a_new_size_or_a_reset_forgets_what_the_browser_showed() -> None:
    pair = Pair()
    screen = text_screen(H, W)
    keyframe(pair, screen)
    pair.hop.reset()
    content, _ = pair.show(frame(2, *lossless_tiles(screen)))
    assert content["tiles"] == [[0, 0, W, 64, "rgb"], [0, 64, W, 64, "rgb"]]  # all again
    bigger = text_screen(H, W + 64)
    content, _ = pair.show(frame(3, *lossless_tiles(bigger), keyframe=True, size=(W + 64, H)))
    assert content["tiles"] == strips(W + 64, H)
    assert pair.exact()


def test_exact_pixels_cost_a_fraction_of_the_raw_form() -> None:
    deflate, rgba = Pair(), Pair(form="rgba")
    screen = text_screen(H, W)
    typed = screen.copy()
    typed[10:22, 10:40, :3] = 0
    wire = 0
    for pair in (deflate, rgba):
        keyframe(pair, screen)
        f = frame(2, *lossless_tiles(typed))
        wire = f.payload_bytes
        pair.show(f)
        assert pair.exact()
    first = sum(len(t.payload) for t in lossless_tiles(screen))
    assert deflate.sent <= 2 * (first + wire)
    assert rgba.sent > 5 * deflate.sent


def test_a_repaint_of_the_raw_form_is_one_rgba_tile() -> None:
    pair = Pair(form="rgba")
    keyframe(pair, text_screen(H, W))
    content, buffers = pair.hop.repaint_message(pair.canvas)  # type: ignore[misc]
    assert content["tiles"] == [[0, 0, W, H, "rgba"]] and len(buffers[0]) == W * H * 4
    assert BrowserHop().repaint_message(Canvas()) is None


GLYPH = np.random.default_rng(7).integers(0, 256, (12, 7, 3), np.uint8)  # anti-aliased grey


def _typed(screen: Pixels, column: int) -> Pixels:
    typed = screen.copy()
    typed[4:16, column : column + 7, :3] = GLYPH  # the same letter again
    return typed


def test_one_deflate_stream_runs_across_frames_and_remembers_what_it_saw() -> None:
    sizes: dict[bool, list[int]] = {}
    for persistent in (False, True):
        pair = Pair()
        pair.hop.lean = persistent
        screen = np.full((H, W, 4), 255, np.uint8)
        screen[96:128] = text_screen(32, W, seed=5)
        first, _ = keyframe(pair, screen)
        assert "more" not in first
        sizes[persistent] = []
        for seq, column in enumerate((8, 40, 72, 104, 136), 2):
            screen = _typed(screen, column)
            content, buffers = pair.show(frame(seq, *lossless_tiles(screen)))
            assert content.get("more") == (1 if persistent else None)
            sizes[persistent].append(len(buffers[-1]))
        assert pair.exact()
    # a glyph seen before costs a back-reference, not its pixels again
    assert sum(sizes[True]) < 0.5 * sum(sizes[False]), sizes


def test_a_repaint_starts_the_stream_again() -> None:
    pair = Pair()
    screen = text_screen(H, W)
    keyframe(pair, screen)
    pair.show(frame(2, *lossless_tiles(_typed(screen, 8))))
    content, buffers = pair.hop.repaint_message(pair.canvas) or ({}, [])
    assert "more" not in content
    joined = FakeBrowserCanvas()  # a view that opens now has seen nothing before
    joined.draw(content, buffers)
    pair.browser.draw(content, buffers)  # every view gets every message
    content, buffers = pair.show(frame(3, *lossless_tiles(_typed(screen, 40))))
    assert content["more"] == 1
    joined.draw(content, buffers)
    assert np.array_equal(joined.pixels, pair.canvas.pixels()[..., 2::-1])


def _colourful_text(height: int, width: int) -> Pixels:
    """Text on a background whose shades differ per 64-row band: each band has ~200
    colours, the screen together more than one palette holds; the last band is a photo."""
    screen = text_screen(height, width)
    background = (screen[..., :3] == 255).all(axis=2)
    for top in range(0, height, 64):
        rows = slice(top, top + 64)
        shade = np.zeros((min(64, height - top), width, 3), np.uint8)
        shade[..., 0] = top // 64 * 60
        shade[..., 1] = np.arange(width) % 200
        shade[..., 2] = 200
        screen[rows, :, :3] = np.where(background[rows, :, None], shade, screen[rows, :, :3])
    screen[height - 64 :, :, :] = photo_patch(64, width)
    return screen


def test_a_screen_too_colourful_for_one_palette_goes_in_bands_of_their_own() -> None:
    """A first picture of antialiased text has more colours than one palette holds, but each
    band of 64 rows mostly does: those bands go as palettes, the rest as RGB, exactly."""
    height = 192
    screen = _colourful_text(height, W)
    pair = Pair()
    content, _ = pair.show(frame(1, *lossless_tiles(screen), keyframe=True, size=(W, height)))
    assert pair.exact()
    kinds = [t[4] for t in content["tiles"]]
    assert kinds == ["pal", "pal", "rgb"], content["tiles"]
    assert "pal" not in content  # no palette for the whole frame
    assert all(0 < t[5] <= 256 for t in content["tiles"] if t[4] == "pal")
    # a third of the pixel bytes to deflate in the palette bands
    assert content["rgb"] < 2 * W * height
