"""The stateful encoder with the canvas: choices per tile, refinement, exactness."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from zvkdiag.screen import encoder as encoder_module
from zvkdiag.screen.codec import Encoding
from zvkdiag.screen.encoder import EncoderPolicy, FrameEncoder
from zvkdiag.screen.frames import Frame, decode_frame, encode_frame
from zvkdiag.screen.reassemble import Canvas
from zvkdiag.screen.tiles import Rect, tile_rect
from zvkdiag.screen.window_moves import Move

from .scenes import photo_patch, text_screen


class Chain:
    """Encoder → wire bytes → canvas, with a hand-driven clock."""

    def __init__(self, policy: EncoderPolicy | None = None) -> None:
        self.encoder = FrameEncoder(policy)
        self.canvas = Canvas()
        self.seq = 0
        self.now = 0.0
        self.sent: list[Frame] = []

    def step(
        self,
        pixels: np.ndarray,
        *,
        dt: float = 0.02,
        keyframe: bool = False,
        moves: Sequence[Move] = (),
    ) -> Frame | None:
        self.now += dt
        tiles = self.encoder.encode(pixels, now=self.now, keyframe=keyframe, moves=moves)
        if not tiles:
            return None
        self.seq += 1
        h, w = pixels.shape[:2]
        key = self.encoder.last_was_keyframe
        frame = decode_frame(encode_frame(Frame(self.seq, w, h, 0.0, key, tuple(tiles))))
        self.canvas.apply(frame)
        self.sent.append(frame)
        return frame

    def exact(self, pixels: np.ndarray) -> bool:
        return bool(np.array_equal(self.canvas.pixels()[..., :3], pixels[..., :3]))


def encodings(frame: Frame | None) -> set[Encoding]:
    return set() if frame is None else {t.encoding for t in frame.tiles}


def test_text_screen_is_sent_lossless_and_exact_at_once() -> None:
    chain = Chain()
    assert not chain.canvas.settled  # nothing shown yet
    screen = text_screen()
    first = chain.step(screen)
    assert encodings(first) == {Encoding.PALETTE}  # few colours: palette, never JPEG
    assert chain.exact(screen) and chain.canvas.settled
    assert chain.step(screen) is None  # nothing changed, nothing to refine


def test_blinking_cursor_costs_under_200_bytes() -> None:
    chain = Chain()
    screen = text_screen()
    chain.step(screen)
    blink = screen.copy()
    blink[100:116, 150:152, :3] = 0
    frame = chain.step(blink)
    assert frame is not None and encodings(frame) == {Encoding.PALETTE}
    assert [(t.x, t.y, t.w, t.h) for t in frame.tiles] == [(150, 100, 2, 16)]  # not 64×64
    assert len(encode_frame(frame)) < 200
    assert chain.exact(blink)
    back = chain.step(screen)
    assert back is not None and len(encode_frame(back)) < 200
    assert chain.exact(screen)


def test_photo_goes_jpeg_then_is_refined_to_exact_once_settled() -> None:
    chain = Chain()
    screen = text_screen(256, 320)
    screen[64:192, 64:256] = photo_patch(128, 192)
    first = chain.step(screen)
    assert first is not None and Encoding.JPEG in encodings(first)
    jpeg_tiles = [t for t in first.tiles if t.encoding is Encoding.JPEG]
    assert len(jpeg_tiles) < 6  # merged into rectangles, not one JPEG per tile
    assert not chain.exact(screen) and not chain.canvas.settled
    assert chain.encoder.lossy_tiles == 6
    assert chain.step(screen, dt=0.1) is None  # not settled long enough yet
    refine = chain.step(screen, dt=0.2)
    assert encodings(refine) == {Encoding.LOSSLESS}
    assert chain.exact(screen) and chain.encoder.lossy_tiles == 0
    assert chain.canvas.settled


def test_refinement_respects_its_byte_budget() -> None:
    chain = Chain(EncoderPolicy(refine_budget=1))
    screen = photo_patch(128, 128)
    chain.step(screen)
    refines = [chain.step(screen, dt=0.3) for _ in range(4)]
    assert [len(f.tiles) for f in refines if f is not None] == [1, 1, 1, 1]
    assert chain.exact(screen)


def test_moving_content_skips_the_lossless_attempt() -> None:
    chain = Chain()
    background = text_screen(256, 320)
    photo = photo_patch(100, 100)
    for x in range(0, 200, 25):  # a picture being dragged
        screen = background.copy()
        screen[50:150, x : x + 100] = photo
        frame = chain.step(screen)
        assert frame is not None
    settle = screen
    for _ in range(20):
        chain.step(settle, dt=0.05)
    assert chain.exact(settle)


def test_keyframe_resends_everything_without_xor() -> None:
    chain = Chain()
    screen = text_screen()
    chain.step(screen)
    frame = chain.step(screen, keyframe=True)
    assert frame is not None and frame.keyframe
    assert Encoding.XOR not in encodings(frame)
    covered = sum(t.w * t.h for t in frame.tiles)
    assert covered == screen.shape[0] * screen.shape[1]


def test_a_new_screen_size_starts_over() -> None:
    chain = Chain()
    chain.step(text_screen(128, 128))
    bigger = text_screen(200, 300)
    frame = chain.step(bigger)  # no keyframe asked for: the size change forces one
    assert frame is not None and frame.keyframe and chain.canvas.size == (300, 200)
    assert chain.exact(bigger)


def test_scrolled_text_travels_as_a_copy_plus_the_new_rows() -> None:
    chain = Chain()
    page = text_screen(640, 320, seed=9)
    screen = page[:400].copy()
    first = chain.step(screen)
    assert first is not None
    scrolled = page[48:448].copy()  # three 16-pixel lines down
    frame = chain.step(scrolled)
    assert frame is not None and frame.tiles[0].encoding is Encoding.COPY
    assert len(encode_frame(frame)) < len(encode_frame(first)) / 4
    assert chain.exact(scrolled)


def test_a_lossy_band_is_not_copied() -> None:
    chain = Chain()
    page = photo_patch(640, 320)
    chain.step(page[:400].copy())
    frame = chain.step(page[48:448].copy())
    assert frame is not None and Encoding.COPY not in encodings(frame)


def test_edge_tiles_settle_on_screens_not_a_multiple_of_64() -> None:
    chain = Chain()
    screen = photo_patch(100, 150)
    chain.step(screen)
    assert not chain.canvas.settled
    chain.step(screen, dt=0.3)
    assert chain.canvas.settled and chain.exact(screen)


def test_a_window_scrolling_amid_other_changes_stays_exact() -> None:
    """A terminal-like window off the tile grid scrolls by different amounts while the
    rest of the screen changes too: every frame uses a COPY and the canvas stays exact."""
    chain = Chain()
    desktop = text_screen(500, 900, seed=4)
    log = text_screen(1400, 470, seed=5)  # the window's content, taller than the window
    top, left, height = 37, 101, 330
    screen = desktop.copy()
    screen[top : top + height, left : left + 470] = log[:height]
    chain.step(screen)
    offset, copies = 0, 0
    for step, lines in enumerate([3, 1, 3, 25, 3, 2, 10]):
        offset += 16 * lines
        screen = screen.copy()
        screen[top : top + height, left : left + 470] = log[offset : offset + height]
        screen[450:466, 120 + 9 * step : 126 + 9 * step, :3] = 0  # typing below the window
        frame = chain.step(screen)
        assert frame is not None
        copies += Encoding.COPY in encodings(frame)
        assert chain.exact(screen), f"step {step}"
    assert copies >= 6  # the 25-line jump may leave too few rows to copy


def test_only_the_given_areas_are_compared_and_what_lies_outside_waits_for_its_turn() -> None:
    """The capturer reuses one buffer and says where it changed (X DAMAGE areas)."""
    chain = Chain()
    buffer = text_screen(320, 640, seed=7)
    chain.step(buffer)
    buffer[20:30, 20:30, :3] = 0  # reported
    buffer[200:210, 500:510, :3] = 0  # drawn after the report: not in this frame's areas
    frame = chain.encoder.encode(buffer, now=1.0, areas=[Rect(20, 20, 10, 10)])
    assert {(t.x, t.y) for t in frame} == {(20, 20)}
    chain.canvas.apply(Frame(2, 640, 320, 0.0, False, tuple(frame)))
    assert not chain.exact(buffer)  # the unreported drawing is not there yet ...
    frame = chain.encoder.encode(buffer, now=2.0, areas=[Rect(500, 200, 10, 10)])
    assert {(t.x, t.y) for t in frame} == {(500, 200)}
    chain.canvas.apply(Frame(3, 640, 320, 0.0, False, tuple(frame)))
    assert chain.exact(buffer)  # ... until its area is reported


def test_areas_do_not_disturb_scrolling() -> None:
    chain = Chain()
    page = text_screen(640, 320, seed=9)
    buffer = page[:400].copy()
    chain.step(buffer)
    buffer[...] = page[48:448]
    frame = chain.encoder.encode(buffer, now=1.0, areas=[Rect(0, 0, 320, 400)])
    assert frame and frame[0].encoding is Encoding.COPY
    chain.canvas.apply(Frame(2, 320, 400, 0.0, False, tuple(frame)))
    assert chain.exact(buffer)


def test_a_clock_ticking_elsewhere_does_not_hide_a_scroll_when_the_parts_are_known() -> None:
    log = text_screen(1400, 470, seed=5)
    screen = text_screen(500, 900, seed=4)
    screen[37:367, 101:571] = log[:330]
    encoders = {"parts": Chain(), "no parts": Chain()}
    for chain in encoders.values():
        chain.step(screen.copy())
    screen[37:367, 101:571] = log[48:378]  # three lines down
    screen[10:26, 800:860, :3] = 0  # the clock, in other columns
    window, clock = Rect(101, 37, 470, 330), Rect(800, 10, 60, 16)
    used = {}
    for name, chain in encoders.items():
        tiles = chain.encoder.encode(
            screen, now=1.0, areas=[window, clock] if name == "parts" else None
        )
        chain.canvas.apply(Frame(2, 900, 500, 0.0, False, tuple(tiles)))
        assert chain.exact(screen)
        used[name] = Encoding.COPY in {t.encoding for t in tiles}
    assert used == {"parts": True, "no parts": True}  # without parts: found as a move (move.py)


def spinner(tick: int) -> np.ndarray:
    """A 40×40 'spinner': a dark block walking around a ring of grey blocks."""
    area = np.full((40, 40, 4), 250, np.uint8)
    for i, (y, x) in enumerate(
        [(2, 2), (2, 18), (2, 30), (18, 30), (30, 30), (30, 18), (30, 2), (18, 2)]
    ):
        area[y : y + 8, x : x + 8, :3] = 40 if i == tick % 8 else 180
    return area


def test_a_small_animation_travels_as_its_own_region_and_exactly() -> None:
    chain = Chain()
    screen = text_screen(256, 320)
    chain.step(screen)
    sizes = []
    for tick in range(1, 25):  # 25 frames a second, for a second
        screen = screen.copy()
        screen[100:140, 130:170] = spinner(tick)  # straddles four tiles
        frame = chain.step(screen, dt=0.04)
        assert frame is not None and encodings(frame) == {Encoding.PALETTE}
        for tile in frame.tiles:  # only what moved, never whole tiles
            assert 100 <= tile.y < tile.y + tile.h <= 140
            assert 130 <= tile.x < tile.x + tile.w <= 170
        assert chain.exact(screen)
        sizes.append(len(encode_frame(frame)))
    assert max(sizes[8:]) < 400  # the ring's pictures repeat: the context has them


def test_a_viewer_that_joins_at_a_keyframe_decodes_the_rest() -> None:
    chain = Chain()
    screen = text_screen()
    chain.step(screen)
    for n in range(3):
        screen = screen.copy()
        screen[20:36, 20 + 9 * n : 29 + 9 * n, :3] = 0
        chain.step(screen)
    key = chain.step(screen, keyframe=True)
    assert key is not None and key.keyframe
    late = Canvas()  # a fresh viewer, as after a reload: sees the keyframe first
    late.apply(key)
    for n in range(3):
        screen = screen.copy()
        screen[60:76, 20 + 9 * n : 29 + 9 * n, :3] = 0
        frame = chain.step(screen)
        assert frame is not None
        late.apply(frame)
    assert np.array_equal(late.pixels()[..., :3], screen[..., :3])


def test_a_rewritten_table_goes_as_one_rectangle_and_far_apart_letters_stay_apart() -> None:
    chain = Chain()
    screen = text_screen(256, 320, seed=3)
    chain.step(screen)
    table = screen.copy()
    table[40:200, 30:290] = text_screen(160, 260, seed=4)  # every cell rewritten
    frame = chain.step(table)
    assert frame is not None and encodings(frame) == {Encoding.PALETTE}
    assert len(frame.tiles) <= 2  # not one per changed tile (20 of them)
    assert sum(t.w * t.h for t in frame.tiles) <= 260 * 160
    assert chain.exact(table)
    letters = table.copy()
    letters[4:14, 4:10, :3] = 0
    letters[230:240, 300:306, :3] = 0
    frame = chain.step(letters)
    assert frame is not None and len(frame.tiles) == 2  # not one box around both
    assert chain.exact(letters)


def test_a_dragged_window_travels_as_a_copy_plus_what_it_uncovered() -> None:
    chain = Chain()
    background = np.zeros((512, 768, 4), np.uint8)
    background[..., 2] = (np.arange(512) * 200 // 512)[:, None]  # a gradient wallpaper
    window = text_screen(180, 260, seed=5)
    window[100:170, 150:250] = photo_patch(70, 100)

    def at(x: int, y: int) -> np.ndarray:
        screen = background.copy()
        screen[y : y + 180, x : x + 260] = window
        return screen

    chain.step(at(100, 100))
    chain.step(at(100, 100), dt=1.0)  # settled: the photo refined, the viewer exact
    for step in range(1, 11):
        screen = at(100 + 6 * step, 100 + (step % 4) * 3)
        frame = chain.step(screen, dt=0.04)
        assert frame is not None and Encoding.COPY in encodings(frame)
        assert Encoding.JPEG not in encodings(frame)
        assert len(encode_frame(frame)) < 2000  # the window is 180×260: ~140 KB of pixels
        assert chain.exact(screen)


def desktop(window: np.ndarray, x: int, y: int, height: int = 480, width: int = 800) -> np.ndarray:
    """A wallpaper of one colour per row (as the bench's gradient) with ``window`` at (x, y)."""
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 0] = (np.arange(height) * 200 // height)[:, None]
    pixels[..., 1], pixels[..., 2] = 90, 40
    h, w = window.shape[:2]
    pixels[y : y + h, x : x + w] = window
    return pixels


def moved(old: tuple[int, int], new: tuple[int, int], window: np.ndarray) -> list[Move]:
    h, w = window.shape[:2]
    return [(Rect(*old, w, h), Rect(*new, w, h))]


def test_a_moved_window_travels_as_one_copy_and_the_uncovered_background() -> None:
    """The X server's hint finds a jump beyond the search's reach (64 px) as well."""
    window = text_screen(200, 300, seed=4)
    hinted, plain = Chain(), Chain()
    for chain in (hinted, plain):
        chain.step(desktop(window, 100, 100))
    after = desktop(window, 190, 117)
    frame = hinted.step(after, moves=moved((100, 100), (190, 117), window))
    without = plain.step(after)
    assert frame is not None and without is not None
    assert frame.tiles[0].encoding is Encoding.COPY
    assert (frame.tiles[0].x, frame.tiles[0].y) == (190, 117)
    assert len(encode_frame(frame)) * 2 < len(encode_frame(without))
    assert hinted.exact(after) and hinted.canvas.settled


def test_a_moved_photo_carries_its_approximation_and_settles_exact() -> None:
    """A window shown as JPEG moves with its approximation, which is then refined."""
    window = photo_patch(192, 256)
    chain = Chain()
    chain.step(desktop(window, 64, 64))
    assert not chain.canvas.settled
    place = (64, 64)
    for step in range(1, 6):
        new = (64 + 10 * step, 64 + 7 * step)
        frame = chain.step(desktop(window, *new), moves=moved(place, new, window))
        assert frame is not None and frame.tiles[0].encoding is Encoding.COPY
        place = new
    still = desktop(window, *place)
    for _ in range(5):
        chain.step(still, dt=0.3)
    assert chain.exact(still) and chain.canvas.settled


def test_a_wrong_move_hint_costs_no_exactness() -> None:
    window = text_screen(200, 300, seed=4)
    chain = Chain()
    chain.step(desktop(window, 100, 100))
    changed = desktop(text_screen(200, 300, seed=5), 140, 100)  # new content, not a move
    frame = chain.step(changed, moves=moved((100, 100), (140, 100), window))
    assert frame is not None and Encoding.COPY not in encodings(frame)
    half = desktop(window, 140, 100)
    half[100:200, 140:440] = text_screen(100, 300, seed=6)[..., :4]  # its lower half redrawn
    chain.step(desktop(window, 100, 100))
    frame = chain.step(half, moves=moved((100, 100), (140, 100), window))
    assert frame is not None and frame.tiles[0].encoding is Encoding.COPY
    assert chain.exact(half)


def ragged_page(seed: int, height: int = 448, width: int = 640) -> np.ndarray:
    """A terminal page: lines of text of different lengths on a white background."""
    page = np.full((height, width, 4), 255, np.uint8)
    text = text_screen(height, width, seed=seed)
    lengths = np.random.default_rng(seed).integers(width // 4, width, height // 16)
    for line, length in enumerate(lengths):
        page[16 * line : 16 * line + 12, :length] = text[16 * line : 16 * line + 12, :length]
    return page


def test_a_turned_page_of_ragged_lines_goes_as_few_rectangles() -> None:
    """Lines of different lengths leave the right-hand tiles partly unchanged: still one box."""
    chain = Chain()
    chain.step(ragged_page(1))
    page = ragged_page(2)
    frame = chain.step(page)
    assert frame is not None and encodings(frame) == {Encoding.PALETTE}
    assert len(frame.tiles) <= 2  # not one per changed tile (70 of them)
    assert chain.exact(page)


def test_the_strips_a_dragged_window_uncovers_go_as_one_rectangle_each() -> None:
    window = text_screen(200, 300, seed=4)
    chain = Chain()
    chain.step(desktop(window, 100, 100))
    after = desktop(window, 106, 94)  # 6 px right, 6 px up: an L of wallpaper uncovered
    frame = chain.step(after, moves=moved((100, 100), (106, 94), window))
    assert frame is not None and frame.tiles[0].encoding is Encoding.COPY
    assert len(frame.tiles) <= 4  # the copy, the strip at the left, the strip below, a corner
    assert chain.exact(after)


def test_a_page_turned_again_and_again_is_searched_for_a_moved_window_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No window moves in a pager: the search (~4 ms a page) is not repeated over the same box."""
    searches: list[int] = []
    search = encoder_module.find_move

    def counted(*args: Any) -> Any:
        searches.append(1)
        return search(*args)

    monkeypatch.setattr(encoder_module, "find_move", counted)
    chain = Chain()
    chain.step(ragged_page(1))
    for seed in range(2, 7):
        page = ragged_page(seed)
        chain.step(page)
        assert chain.exact(page)
    assert len(searches) == 1
    window = text_screen(200, 300, seed=4)
    chain.step(desktop(window, 100, 100, 448, 640))
    after = desktop(window, 106, 94, 448, 640)  # a move the X server told nothing of
    frame = chain.step(after)
    assert frame is not None and frame.tiles[0].encoding is Encoding.COPY
    assert chain.exact(after)


def test_changed_boxes_found_run_by_run_equal_those_found_tile_by_tile() -> None:
    """Also where a COPY leaves the reference and where the screen's edge cuts a tile.

    The boxes come from the frame's compares (``_differs``); here they are
    checked against a compare of the pixels made afresh, tile by tile.
    """
    rng = np.random.default_rng(1)
    for trial in range(60):
        height, width = int(rng.integers(64, 300)), int(rng.integers(64, 400))
        old = (rng.random((height, width, 4)) < 0.5).astype(np.uint8) * 255
        new = old.copy()
        for _ in range(5):
            y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
            new[y : y + int(rng.integers(1, 40)), x : x + int(rng.integers(1, 40))] ^= 7
        encoder = FrameEncoder()
        encoder.encode(old, now=0.0)
        encoder._changed(
            new,
            None if trial % 4 < 2 else [Rect(0, 0, 64, height), Rect(64, 0, width - 64, height)],
        )
        shown = old.copy()
        if trial % 2:
            area = Rect(64, 0, min(128, width - 64), min(128, height))
            after = new[: area.h, 64 : 64 + area.w].copy()
            after[::3] ^= 1
            encoder._copied = (area, after)
            encoder._compare(after, new, area)
            shown[: area.h, 64 : 64 + area.w] = after
        cells = np.ones((-(-height // 64), -(-width // 64)), np.bool_)
        boxes = dict(encoder._tight_boxes(new, cells))
        for row, col in np.argwhere(cells).tolist():
            assert boxes[row, col] == changed_box_of(shown, new, tile_rect(row, col, height, width))


def changed_box_of(shown: np.ndarray, new: np.ndarray, tile: Rect) -> Rect | None:
    part = (slice(tile.y, tile.y + tile.h), slice(tile.x, tile.x + tile.w))
    where = np.argwhere((shown[part] != new[part]).any(axis=2))
    if where.size == 0:
        return None
    (top, left), (bottom, right) = where.min(axis=0), where.max(axis=0) + 1
    return Rect(tile.x + int(left), tile.y + int(top), int(right - left), int(bottom - top))
