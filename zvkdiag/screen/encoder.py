"""The customer-side frame encoder: which tiles to send, and how.

Per tile the encoder remembers whether the viewer shows it exactly or only as
a JPEG approximation, and when it last changed.  For each captured frame:

0. A vertically scrolled band, or else a moved rectangle (a dragged window,
   ``move``), whose source the viewer shows exactly is sent as one COPY
   (``scroll``); only what differs after the copy is encoded.
1. Changed tiles the viewer shows exactly shrink to the bounding box of
   their changed pixels (a typed letter: one character cell, not 64×64).
2. A rectangle of at most 256 colours (text, forms, tables, icons, a
   spinner) is sent as PALETTE: one byte per pixel through the stream's
   deflate context, which remembers the glyphs of the last 32 KB.
3. Otherwise, for an exactly shown tile, an XOR delta if that is tiny;
   otherwise lossless zstd, if that stays small.
4. Otherwise JPEG, merged into few rectangles (photos, gradients, anything
   that keeps moving).  A tile that was JPEG and changes again soon goes
   straight to JPEG without trying lossless first.
5. Tiles shown as JPEG that have not changed for ``refine_after`` seconds
   are refined losslessly, within a byte budget per frame, so a settled
   screen ends up pixel-exact on the viewer.

The previous frame doubles as "what the viewer shows" for exact tiles: every
frame the encoder returns is sent, so the invariant holds until the flow
control asks for a keyframe (which forgets everything).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

from zvkdiag.screen.codec import (
    JPEG_QUALITY,
    Encoding,
    PaletteEncoder,
    encode_copy,
    encode_jpeg,
    encode_lossless,
    encode_xor,
)
from zvkdiag.screen.frames import Tile
from zvkdiag.screen.move import find_move
from zvkdiag.screen.scroll import Box, Scroll, ScrollFinder, changed_box
from zvkdiag.screen.tiles import (
    TILE,
    Rect,
    align,
    any_per_tile,
    grid_shape,
    merge_runs,
    minus,
    tile_rect,
)
from zvkdiag.screen.window_moves import Move

__all__ = ["EncoderPolicy", "FrameEncoder"]

Pixels = npt.NDArray[np.uint8]

XOR_ACCEPT: Final = 1024
LOSSLESS_MAX: Final = 3072
REFINE_AFTER: Final = 0.25
REFINE_BUDGET: Final = 512 * 1024
BLOCK_SLACK: Final = 1.5  # a block's box may be this much bigger than its tiles' changed parts


@dataclass(frozen=True)
class EncoderPolicy:
    """Thresholds of the tile-by-tile choice (bytes and seconds)."""

    xor_accept: int = XOR_ACCEPT
    lossless_max: int = LOSSLESS_MAX
    refine_after: float = REFINE_AFTER
    refine_budget: int = REFINE_BUDGET
    jpeg_quality: int = JPEG_QUALITY


class FrameEncoder:
    """Turns a sequence of captured BGRX frames into tile lists.

    The encoder keeps its own copy of the last frame (``_prev``: what the
    viewer shows, exactly where no tile is lossy), so a caller may reuse one
    buffer and pass ``areas``: only those parts of the frame can have changed
    since the previous call, and only they are compared and copied.
    """

    def __init__(self, policy: EncoderPolicy | None = None) -> None:
        self.policy = policy or EncoderPolicy()
        self._prev: Pixels = np.zeros((0, 0, 4), np.uint8)
        self._copied: tuple[Rect, Pixels] | None = None  # tiles the COPY changed, after it
        self._lossy = np.zeros((0, 0), np.bool_)
        self._lossy_count = 0  # of ``_lossy``, counted again whenever it may have changed
        # this frame's compares (area, where it differs from what the viewer shows), the
        # latest last: one compare serves the changed tiles, the scroll search's columns and
        # the changed part of each tile
        self._compares: list[tuple[Rect, npt.NDArray[np.bool_]]] = []
        self._changed_at = np.zeros((0, 0), np.float64)
        self._palette = PaletteEncoder()
        self._scrolls = ScrollFinder()
        self._moveless: Box | None = None  # the changed box where find_move last found nothing
        self.last_was_keyframe = False

    @property
    def lossy_tiles(self) -> int:
        """Tiles the viewer shows only approximately right now."""
        return self._lossy_count

    def encode(
        self,
        pixels: Pixels,
        *,
        now: float,
        keyframe: bool = False,
        areas: Sequence[Rect] | None = None,
        moves: Sequence[Move] = (),
    ) -> list[Tile]:
        """Tiles to send for this frame; empty when nothing changed or needs refining.

        ``areas``: the parts of ``pixels`` that may differ from the previous
        frame (None: all of it); ``moves``: windows the X server moved since
        then (old place, new place), candidates for a COPY.
        ``last_was_keyframe`` tells afterwards whether these tiles cover the
        whole screen and need no earlier state (asked for, first frame, or the
        screen size changed).
        """
        fresh = keyframe or self._prev.shape != pixels.shape
        self.last_was_keyframe = fresh  # a new screen size forces one
        tiles: list[Tile] = []
        self._copied = None
        height, width = pixels.shape[:2]
        parts = None
        if not fresh and areas is not None:
            parts = [a for a in (align(r, height, width) for r in areas) if a.w and a.h]
        self._compares = []
        if fresh:
            changed = self._reset(height, width)
            self._scrolls.forget()
        else:
            changed = self._try_copy(pixels, tiles, parts, moves)
        if self._lossy_count or fresh:
            self._encode_changed(pixels, tiles, changed, now, fresh)
        else:  # all shown exactly (typing, a pager): nothing moving, nothing to refine
            self._changed_at[changed] = now
            exact, jpeg = self._exact_tiles(pixels, changed, fresh)
            tiles.extend(exact)
            if jpeg.any():
                tiles.extend(self._jpeg_tiles(pixels, jpeg))
                self._lossy[changed] = jpeg[changed]
                self._lossy_count = int(self._lossy.sum())
        self._remember(pixels, parts)
        return tiles

    def _encode_changed(
        self,
        pixels: Pixels,
        tiles: list[Tile],
        changed: npt.NDArray[np.bool_],
        now: float,
        fresh: bool,
    ) -> None:
        """Steps 1-5 where some tiles are shown as JPEG: those that keep changing stay JPEG,
        the settled ones are refined."""
        moving = self._lossy & changed & (now - self._changed_at < self.policy.refine_after)
        self._changed_at[changed] = now
        exact, jpeg = self._exact_tiles(pixels, changed & ~moving, fresh)
        tiles.extend(exact)
        jpeg |= moving
        tiles.extend(self._jpeg_tiles(pixels, jpeg))
        self._lossy[changed] = jpeg[changed]
        tiles.extend(self._refinements(pixels, now, changed))
        self._lossy_count = int(self._lossy.sum())

    def _changed(
        self, pixels: Pixels, areas: list[Rect] | None, without: Rect | None = None
    ) -> npt.NDArray[np.bool_]:
        """The tiles of ``areas`` (None: all) that differ from the last frame, ``without`` one."""
        height, width = pixels.shape[:2]
        if areas is None and without is None:
            return self._compare(self._prev, pixels, Rect(0, 0, width, height))
        changed = np.zeros(grid_shape(height, width), np.bool_)
        for area in [Rect(0, 0, width, height)] if areas is None else areas:
            for piece in [area] if without is None else minus(area, without):
                where = _grid_slices(piece)
                changed[where] |= self._compare(_crop(self._prev, piece), pixels, piece)
        return changed

    def _compare(self, shown: Pixels, pixels: Pixels, area: Rect) -> npt.NDArray[np.bool_]:
        """The changed tiles of a tile-aligned ``area`` (``shown``: what the viewer has there).

        The pixel-by-pixel result is kept for the rest of the frame (``_differs``); a
        contiguous array of its own, which the per-tile reductions reshape without a copy.
        """
        differs = np.not_equal(_words(shown), _words(_crop(pixels, area)))
        self._compares.append((area, differs))
        return any_per_tile(differs)

    def _differs(self, rect: Rect) -> npt.NDArray[np.bool_] | None:
        """Where ``rect`` differs from what the viewer shows, if one compare of this frame
        holds all of it (the latest: after a COPY, the compare against what it leaves)."""
        for area, differs in reversed(self._compares):
            x, y = rect.x - area.x, rect.y - area.y
            if 0 <= x <= area.w - rect.w and 0 <= y <= area.h - rect.h:
                return differs[y : y + rect.h, x : x + rect.w]
        return None

    def _remember(self, pixels: Pixels, areas: list[Rect] | None) -> None:
        """Keep this frame (the parts that can have changed) for the next comparison."""
        if areas is None:
            if self._prev.shape == pixels.shape:
                np.copyto(self._prev, pixels)
            else:
                self._prev = pixels.copy()
        for area in areas or ():
            _crop(self._prev, area)[...] = _crop(pixels, area)

    def _try_copy(
        self, pixels: Pixels, tiles: list[Tile], parts: list[Rect] | None, moves: Sequence[Move]
    ) -> npt.NDArray[np.bool_]:
        """Send a moved window or a scrolled band as COPY; returns the tiles still changed.

        A window the X server says was moved (``moves``) comes first: its
        tiles are compared only once, against what the viewer shows after the
        copy.  Else, with ``parts`` known, a scrolled band is looked for in the
        part with the most changed tiles, so a clock ticking elsewhere does
        not hide a scrolling window.  A band is scrolled only where the viewer
        shows its source exactly (a JPEG approximation would spread over the
        screen); a window moves along with whatever the viewer shows of it,
        and the tiles it lands on are as exact as their source was
        (``_carry_lossy``).  Afterwards ``_reference`` is what the viewer will
        show once the copy is applied: the XOR reference.  A scrolled band was
        verified pixel by pixel and the rest of its area stays as it was, so
        the frame's compare serves there too, with the band cleared.
        """
        height, width = pixels.shape[:2]
        copy = self._find_move(pixels, moves)
        moves_first = copy is not None  # not verified row by row: compared after the copy
        if copy is not None:
            self._scrolls.forget()  # it did not see this frame
            area = align(copy[0], height, width)
            changed = self._changed(pixels, parts, without=area)
        else:
            changed = self._changed(pixels, parts)
            copy = self._find_scroll(pixels, changed, parts)
            if copy is None:
                return changed
            area = align(copy[0], height, width)
        band, sx, sy = copy
        self._carry_lossy(band, sx - band.x, sy - band.y, area, (height, width))
        after = _crop(self._prev, area).copy()
        _crop(after, Rect(band.x - area.x, band.y - area.y, band.w, band.h))[...] = _crop(
            self._prev, Rect(sx, sy, band.w, band.h)
        )
        self._copied = (area, after)
        tiles.append(_tile(band, Encoding.COPY, encode_copy(sx, sy)))
        compared = None if moves_first else self._differs(area)
        if compared is None:
            changed[_grid_slices(area)] = self._compare(after, pixels, area)
        else:
            _crop(compared, Rect(band.x - area.x, band.y - area.y, band.w, band.h))[...] = False
            changed[_grid_slices(area)] = any_per_tile(compared)
        return changed

    def _find_scroll(
        self, pixels: Pixels, changed: npt.NDArray[np.bool_], parts: list[Rect] | None
    ) -> tuple[Rect, int, int] | None:
        busiest = _busiest(changed, parts)
        scroll = self._scrolls.find(self._prev, pixels, busiest, changed, differs=self._differs)
        if scroll is None:
            scroll = self._search_move(pixels, busiest)
        if scroll is None:
            return None
        band = Rect(scroll.x, scroll.y, scroll.w, scroll.h)
        if self._lossy_at(band, scroll.dx, scroll.dy):
            return None
        return band, scroll.x + scroll.dx, scroll.y + scroll.dy

    def _search_move(self, pixels: Pixels, busiest: npt.NDArray[np.bool_]) -> Scroll | None:
        """A window dragged where the X server tells nothing of it (``move.find_move``).

        Not again over the same changed box where the last search found
        nothing: a page turned again and again, a video or an animation
        changes the same box each frame, a dragged thing a new one (~4 ms a
        search on a page of text).
        """
        box = changed_box(busiest, *pixels.shape[:2])
        if box is None or box == self._moveless:
            return None
        scroll = find_move(self._prev, pixels, busiest)
        self._moveless = None if scroll is not None else box
        return scroll

    def _find_move(self, pixels: Pixels, moves: Sequence[Move]) -> tuple[Rect, int, int] | None:
        """The first of ``moves`` whose window shows at its new place as the viewer had it.

        At least half of its rows must match the old place exactly (another
        window may cover part of it, or its content change as it moves).
        """
        height, width = pixels.shape[:2]
        for old, new in moves:
            dx, dy = old.x - new.x, old.y - new.y
            x0, y0 = max(new.x, 0, -dx), max(new.y, 0, -dy)  # on the screen, and its source too
            x1 = min(new.x + new.w, width, width - dx)
            y1 = min(new.y + new.h, height, height - dy)
            if x1 - x0 < TILE or y1 - y0 < TILE:
                continue
            band = Rect(x0, y0, x1 - x0, y1 - y0)
            source = _crop(self._prev, Rect(x0 + dx, y0 + dy, band.w, band.h))
            same_rows = (_words(_crop(pixels, band)) == _words(source)).all(axis=1)
            if 2 * int(same_rows.sum()) >= band.h:
                return band, x0 + dx, y0 + dy
        return None

    def _lossy_at(
        self, band: Rect, dx: int, dy: int, lossy: npt.NDArray[np.bool_] | None = None
    ) -> bool:
        """Whether the viewer shows any of ``band`` moved by (dx, dy) only approximately."""
        top, left = band.y + dy, band.x + dx
        rows = slice(top // TILE, (top + band.h - 1) // TILE + 1)
        cols = slice(left // TILE, (left + band.w - 1) // TILE + 1)
        return bool((self._lossy if lossy is None else lossy)[rows, cols].any())

    def _carry_lossy(
        self, band: Rect, dx: int, dy: int, area: Rect, shape: tuple[int, int]
    ) -> None:
        """After a COPY of ``band`` from (dx, dy) away: a tile it lands on is approximate
        if the pixels copied into it were, or if it was and the copy does not cover it."""
        before = self._lossy.copy()
        if not before.any():
            return
        height, width = shape
        rows, cols = _grid_slices(area)
        for row in range(rows.start, rows.stop):
            for col in range(cols.start, cols.stop):
                tile = tile_rect(row, col, height, width)
                x0, y0 = max(tile.x, band.x), max(tile.y, band.y)
                x1 = min(tile.x + tile.w, band.x + band.w)
                y1 = min(tile.y + tile.h, band.y + band.h)
                if x0 >= x1 or y0 >= y1:
                    continue
                covered = (x1 - x0, y1 - y0) == (tile.w, tile.h)
                carried = self._lossy_at(Rect(x0, y0, x1 - x0, y1 - y0), dx, dy, before)
                self._lossy[row, col] = carried or (not covered and bool(before[row, col]))

    def _reference(self, rect: Rect) -> Pixels:
        """What the viewer shows in this tile once this frame's COPY is applied."""
        if self._copied is not None:
            area, after = self._copied
            inside_y = area.y <= rect.y < area.y + area.h
            if inside_y and area.x <= rect.x < area.x + area.w:
                return _crop(after, Rect(rect.x - area.x, rect.y - area.y, rect.w, rect.h))
        return _crop(self._prev, rect)

    def _reset(self, height: int, width: int) -> npt.NDArray[np.bool_]:
        shape = grid_shape(height, width)
        self._palette.reset()  # a keyframe starts the viewer's PALETTE context afresh
        self._lossy = np.zeros(shape, np.bool_)
        self._lossy_count = 0
        self._changed_at = np.full(shape, -np.inf)
        return np.ones(shape, np.bool_)

    def _exact_tiles(
        self, pixels: Pixels, candidates: npt.NDArray[np.bool_], fresh: bool
    ) -> tuple[list[Tile], npt.NDArray[np.bool_]]:
        """Palette, XOR or lossless tiles for the candidates; the rest is marked for JPEG.

        In a keyframe a whole band of tiles (a tile high, the screen wide) of
        few colours goes as one PALETTE rectangle: a wallpaper costs a few
        bytes a band instead of a tile header and a flush per tile.
        """
        height, width = pixels.shape[:2]
        tiles: list[Tile] = []
        jpeg = np.zeros_like(candidates)
        if fresh:
            candidates = candidates.copy()
            for row in np.flatnonzero(candidates.all(axis=1)):
                band = Rect(0, int(row) * TILE, width, min(TILE, height - int(row) * TILE))
                payload = self._palette.encode(_crop(pixels, band))
                if payload is not None:
                    tiles.append(_tile(band, Encoding.PALETTE, payload))
                    candidates[row] = False
        tight: dict[tuple[int, int], Rect] = {}  # shown tiles: the box of what changed
        if not fresh:
            candidates = candidates.copy()
            for cell, box in self._tight_boxes(pixels, candidates & ~self._lossy):
                if box is None:
                    candidates[cell] = False  # the COPY already shows it
                else:
                    tight[cell] = box
            tiles.extend(self._palette_blocks(pixels, tight, candidates))
        for row, col in np.argwhere(candidates):
            shown = (int(row), int(col)) in tight
            rect = (
                tight[int(row), int(col)] if shown else tile_rect(int(row), int(col), height, width)
            )
            tile = self._exact_tile(pixels, rect, use_xor=shown)
            if tile is None:
                jpeg[row, col] = True
            else:
                tiles.append(tile)
        return tiles, jpeg

    def _palette_blocks(
        self, pixels: Pixels, tight: dict[tuple[int, int], Rect], todo: npt.NDArray[np.bool_]
    ) -> list[Tile]:
        """One PALETTE rectangle for each group of changed tiles that changed nearly all over.

        A table rewritten, a page of text turned or the lines a scroll
        brought in change a block of tiles; a dragged window uncovers a
        strip of wallpaper along its edge.  The changed parts of neighbouring
        tiles join while the box around them stays within ``BLOCK_SLACK`` of
        the parts (``_join_parts``) and go as one rectangle (one header, one
        flush, one palette lookup) instead of one per tile.  Two letters typed
        far apart stay apart.  Clears ``todo`` where it sent something.
        """
        tiles = []
        for box, members in _join_parts(tight):
            if len(members) < 2:
                continue
            payload = self._palette.encode(_crop(pixels, box))
            if payload is not None:
                tiles.append(_tile(box, Encoding.PALETTE, payload))
                for row, col in members:
                    todo[row, col] = False
        return tiles

    def _tight_boxes(
        self, pixels: Pixels, cells: npt.NDArray[np.bool_]
    ) -> list[tuple[tuple[int, int], Rect | None]]:
        """``_tighten`` for each of ``cells``, a run of neighbours in a tile row at a time.

        A run compares against one reference (the old frame, or what the COPY
        leaves) with one numpy pass instead of five calls per tile (a scrolled
        window's new lines: ~40 tiles a frame).  Tiles cut by the screen's
        right edge go one by one.
        """
        height, width = pixels.shape[:2]
        boxes: list[tuple[tuple[int, int], Rect | None]] = []
        run: list[tuple[int, int]] = []
        for row, col in np.argwhere(cells).tolist():
            if run and not self._same_run(run[-1], (row, col)):
                boxes += self._tighten_run(pixels, run)
                run = []
            if (col + 1) * TILE > width:  # cut by the edge
                boxes.append(
                    ((row, col), self._tighten(pixels, tile_rect(row, col, height, width)))
                )
            else:
                run.append((row, col))
        return boxes + (self._tighten_run(pixels, run) if run else [])

    def _same_run(self, last: tuple[int, int], cell: tuple[int, int]) -> bool:
        """Whether ``cell`` continues the run ending in ``last``: next to it, same reference."""
        if cell != (last[0], last[1] + 1):
            return False
        if self._copied is None:
            return True
        area = self._copied[0]
        inside = [area.x <= c * TILE < area.x + area.w for c in (last[1], cell[1])]
        return inside[0] == inside[1]

    def _tighten_run(
        self, pixels: Pixels, run: list[tuple[int, int]]
    ) -> list[tuple[tuple[int, int], Rect | None]]:
        row, first = run[0]
        height = pixels.shape[0]
        band = Rect(first * TILE, row * TILE, len(run) * TILE, min(TILE, height - row * TILE))
        differs = self._differs(band)
        if differs is None:  # a run over two compared parts
            differs = _words(_crop(pixels, band)) != _words(self._reference(band))
        per_tile = differs.reshape(band.h, len(run), TILE)
        rows_any = np.asarray(per_tile.any(axis=2))  # (tile rows, tiles)
        cols_any = np.asarray(per_tile.any(axis=0))  # (tiles, tile columns)
        top = rows_any.argmax(axis=0).tolist()
        bottom = (band.h - rows_any[::-1].argmax(axis=0)).tolist()
        left = cols_any.argmax(axis=1).tolist()
        right = (TILE - cols_any[:, ::-1].argmax(axis=1)).tolist()
        touched = np.asarray(cols_any.any(axis=1)).tolist()
        boxes: list[tuple[tuple[int, int], Rect | None]] = []
        for i, (changed, cell) in enumerate(zip(touched, run, strict=True)):
            x, y = band.x + i * TILE, band.y
            box = Rect(x + left[i], y + top[i], right[i] - left[i], bottom[i] - top[i])
            boxes.append((cell, box if changed else None))
        return boxes

    def _tighten(self, pixels: Pixels, rect: Rect) -> Rect | None:
        """The bounding box of the pixels in ``rect`` that differ from what the viewer shows."""
        differs = self._differs(rect)
        if differs is None:
            differs = _words(_crop(pixels, rect)) != _words(self._reference(rect))
        rows = np.flatnonzero(differs.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(differs[rows[0] : rows[-1] + 1].any(axis=0))
        top, left = int(rows[0]), int(cols[0])
        return Rect(rect.x + left, rect.y + top, int(cols[-1]) + 1 - left, int(rows[-1]) + 1 - top)

    def _exact_tile(self, pixels: Pixels, rect: Rect, *, use_xor: bool) -> Tile | None:
        view = _crop(pixels, rect)
        palette = self._palette.encode(view)
        if palette is not None:
            return _tile(rect, Encoding.PALETTE, palette)
        if use_xor:
            delta = encode_xor(view, self._reference(rect))
            if len(delta) <= self.policy.xor_accept:
                return _tile(rect, Encoding.XOR, delta)
        packed = encode_lossless(view)
        if len(packed) <= self.policy.lossless_max:
            return _tile(rect, Encoding.LOSSLESS, packed)
        return None

    def _jpeg_tiles(self, pixels: Pixels, mask: npt.NDArray[np.bool_]) -> list[Tile]:
        height, width = pixels.shape[:2]
        return [
            _tile(rect, Encoding.JPEG, encode_jpeg(_crop(pixels, rect), self.policy.jpeg_quality))
            for rect in merge_runs(mask, height, width)
        ]

    def _refinements(
        self, pixels: Pixels, now: float, changed: npt.NDArray[np.bool_]
    ) -> list[Tile]:
        """Lossless tiles for JPEG tiles that have settled, within the byte budget."""
        settled = self._lossy & ~changed & (now - self._changed_at >= self.policy.refine_after)
        height, width = pixels.shape[:2]
        tiles: list[Tile] = []
        spent = 0
        for row, col in np.argwhere(settled):
            if spent >= self.policy.refine_budget:
                break
            rect = tile_rect(int(row), int(col), height, width)
            view = _crop(pixels, rect)
            palette = self._palette.encode(view)
            if palette is None:
                tile = _tile(rect, Encoding.LOSSLESS, encode_lossless(view))
            else:
                tile = _tile(rect, Encoding.PALETTE, palette)
            spent += len(tile.payload)
            tiles.append(tile)
            self._lossy[row, col] = False
        return tiles


def _busiest(changed: npt.NDArray[np.bool_], parts: list[Rect] | None) -> npt.NDArray[np.bool_]:
    """The changed tiles of the part where most changed (all of them without parts or with
    one: nothing changed outside the parts)."""
    if not parts or len(parts) == 1:
        return changed
    counts = [int(changed[_grid_slices(part)].sum()) for part in parts]
    where = _grid_slices(parts[counts.index(max(counts))])
    busiest = np.zeros_like(changed)
    busiest[where] = changed[where]
    return busiest


def _grid_slices(area: Rect) -> tuple[slice, slice]:
    """The tile rows and columns of a tile-aligned area."""
    rows = slice(area.y // TILE, -(-(area.y + area.h) // TILE))
    return rows, slice(area.x // TILE, -(-(area.x + area.w) // TILE))


def _bounds(rects: list[Rect]) -> Rect:
    x0, y0 = min(r.x for r in rects), min(r.y for r in rects)
    x1, y1 = max(r.x + r.w for r in rects), max(r.y + r.h for r in rects)
    return Rect(x0, y0, x1 - x0, y1 - y0)


class _Group:
    """Changed parts of neighbouring tiles, their box and the pixels they hold."""

    __slots__ = ("area", "box", "last_row", "members")

    def __init__(self, cell: tuple[int, int], part: Rect) -> None:
        self.box, self.members, self.area, self.last_row = part, [cell], part.w * part.h, cell[0]

    def takes(self, box: Rect, area: int) -> Rect | None:
        """The joint box if adding ``box`` (holding ``area`` pixels) keeps it tight."""
        joint = _bounds([self.box, box])
        return joint if joint.w * joint.h <= BLOCK_SLACK * (self.area + area) else None

    def add(self, joint: Rect, members: list[tuple[int, int]], area: int, row: int) -> None:
        self.box, self.area, self.last_row = joint, self.area + area, row
        self.members.extend(members)


def _join_parts(tight: dict[tuple[int, int], Rect]) -> list[tuple[Rect, list[tuple[int, int]]]]:
    """Group the tiles' changed parts into few tight boxes: along each tile row, then down.

    First the parts of adjacent tiles in one row join while their box stays
    within ``BLOCK_SLACK`` of the parts; then each such run joins a group of
    the tile row above on the same condition (lines of text, a page, a
    strip a tile or less wide: one box each).  Linear in the parts.
    """
    runs: list[_Group] = []
    for cell in sorted(tight):
        part = tight[cell]
        last = runs[-1] if runs else None
        if last is not None and last.members[-1] == (cell[0], cell[1] - 1):
            joint = last.takes(part, part.w * part.h)
            if joint is not None:
                last.add(joint, [cell], part.w * part.h, cell[0])
                continue
        runs.append(_Group(cell, part))
    groups: list[_Group] = []
    for run in runs:
        for group in groups:
            if group.last_row == run.last_row - 1:
                joint = group.takes(run.box, run.area)
                if joint is not None:
                    group.add(joint, run.members, run.area, run.last_row)
                    break
        else:
            groups.append(run)
    return [(g.box, g.members) for g in groups]


def _words(pixels: Pixels) -> npt.NDArray[np.uint32]:
    """A (h, w, 4) view as (h, w) 32-bit pixels, without a copy."""
    return pixels.view(np.uint32)[..., 0]


_Cell = TypeVar("_Cell", bound=np.generic)


def _crop(pixels: npt.NDArray[_Cell], rect: Rect) -> npt.NDArray[_Cell]:
    return pixels[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w]


def _tile(rect: Rect, encoding: Encoding, payload: bytes) -> Tile:
    return Tile(rect.x, rect.y, rect.w, rect.h, encoding, payload)
