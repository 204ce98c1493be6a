"""The customer-side frame encoder: which tiles to send, and how.

Per tile the encoder remembers whether the viewer shows it exactly or only as
a JPEG approximation, and when it last changed.  For each captured frame:

0. A vertically scrolled band whose source the viewer shows exactly is sent
   as one COPY (``scroll``); only what differs after the copy is encoded.
1. Changed tiles the viewer shows exactly are tried as an XOR delta first
   (a blinking cursor or a typed letter: tens to hundreds of bytes).
2. Otherwise lossless zstd, if that stays small (text, flat areas).
3. Otherwise JPEG, merged into few rectangles (photos, gradients, anything
   that keeps moving).  A tile that was JPEG and changes again soon goes
   straight to JPEG without trying lossless first.
4. Tiles shown as JPEG that have not changed for ``refine_after`` seconds
   are refined losslessly, within a byte budget per frame, so a settled
   screen ends up pixel-exact on the viewer.

The previous frame doubles as "what the viewer shows" for exact tiles: every
frame the encoder returns is sent, so the invariant holds until the flow
control asks for a keyframe (which forgets everything).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from zvkdiag.screen.codec import (
    JPEG_QUALITY,
    Encoding,
    encode_copy,
    encode_jpeg,
    encode_lossless,
    encode_xor,
)
from zvkdiag.screen.frames import Tile
from zvkdiag.screen.scroll import Scroll, find_scroll
from zvkdiag.screen.tiles import (
    TILE,
    Rect,
    align,
    changed_tiles,
    grid_shape,
    merge_runs,
    tile_rect,
)

__all__ = ["EncoderPolicy", "FrameEncoder"]

Pixels = npt.NDArray[np.uint8]

XOR_ACCEPT: Final = 1024
LOSSLESS_MAX: Final = 3072
REFINE_AFTER: Final = 0.25
REFINE_BUDGET: Final = 512 * 1024


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
        self._changed_at = np.zeros((0, 0), np.float64)
        self.last_was_keyframe = False

    @property
    def lossy_tiles(self) -> int:
        """Tiles the viewer shows only approximately right now."""
        return int(self._lossy.sum())

    def encode(
        self,
        pixels: Pixels,
        *,
        now: float,
        keyframe: bool = False,
        areas: Sequence[Rect] | None = None,
    ) -> list[Tile]:
        """Tiles to send for this frame; empty when nothing changed or needs refining.

        ``areas``: the parts of ``pixels`` that may differ from the previous
        frame (None: all of it).  ``last_was_keyframe`` tells afterwards
        whether these tiles cover the whole screen and need no earlier state
        (asked for, first frame, or the screen size changed).
        """
        fresh = keyframe or self._prev.shape != pixels.shape
        self.last_was_keyframe = fresh  # a new screen size forces one
        tiles: list[Tile] = []
        self._copied = None
        height, width = pixels.shape[:2]
        parts = None
        if not fresh and areas is not None:
            parts = [a for a in (align(r, height, width) for r in areas) if a.w and a.h]
        if fresh:
            changed = self._reset(height, width)
        else:
            changed = self._changed(pixels, parts)
            changed = self._try_scroll(pixels, changed, tiles, parts)
        moving = self._lossy & changed & (now - self._changed_at < self.policy.refine_after)
        self._changed_at[changed] = now
        exact, jpeg = self._exact_tiles(pixels, changed & ~moving, fresh)
        tiles.extend(exact)
        jpeg |= moving
        tiles.extend(self._jpeg_tiles(pixels, jpeg))
        self._lossy[changed] = jpeg[changed]
        tiles.extend(self._refinements(pixels, now, changed))
        self._remember(pixels, parts)
        return tiles

    def _changed(self, pixels: Pixels, areas: list[Rect] | None) -> npt.NDArray[np.bool_]:
        if areas is None:
            return changed_tiles(self._prev, pixels)
        changed = np.zeros(grid_shape(*pixels.shape[:2]), np.bool_)
        for area in areas:
            where = _grid_slices(area)
            changed[where] |= changed_tiles(_crop(self._prev, area), _crop(pixels, area))
        return changed

    def _remember(self, pixels: Pixels, areas: list[Rect] | None) -> None:
        """Keep this frame (the parts that can have changed) for the next comparison."""
        if areas is None:
            if self._prev.shape == pixels.shape:
                np.copyto(self._prev, pixels)
            else:
                self._prev = pixels.copy()
        for area in areas or ():
            _crop(self._prev, area)[...] = _crop(pixels, area)

    def _try_scroll(
        self,
        pixels: Pixels,
        changed: npt.NDArray[np.bool_],
        tiles: list[Tile],
        parts: list[Rect] | None,
    ) -> npt.NDArray[np.bool_]:
        """Send a scrolled band as COPY; returns the tiles still changed after it.

        With ``parts`` known the band is looked for in the part with the most
        changed tiles, so a clock ticking elsewhere does not hide a scrolling
        window.  Only bands whose source the viewer shows exactly are copied
        (copying a JPEG approximation would spread it).  Afterwards
        ``_reference`` is what the viewer will show once the copy is applied:
        the XOR reference.  Only the tiles the copy touches are compared again.
        """
        scroll = find_scroll(self._prev, pixels, _busiest(changed, parts))
        if scroll is None or self._source_lossy(scroll):
            return changed
        height, width = pixels.shape[:2]
        band = Rect(scroll.x, scroll.y, scroll.w, scroll.h)
        area = align(band, height, width)
        after = _crop(self._prev, area).copy()
        source = self._prev[scroll.y + scroll.dy : scroll.y + scroll.dy + scroll.h]
        _crop(after, Rect(band.x - area.x, band.y - area.y, band.w, band.h))[...] = source[
            :, band.x : band.x + band.w
        ]
        self._copied = (area, after)
        tiles.append(_tile(band, Encoding.COPY, encode_copy(scroll.x, scroll.y + scroll.dy)))
        still = changed.copy()
        still[_grid_slices(area)] = changed_tiles(after, _crop(pixels, area))
        return still

    def _reference(self, rect: Rect) -> Pixels:
        """What the viewer shows in this tile once this frame's COPY is applied."""
        if self._copied is not None:
            area, after = self._copied
            inside_y = area.y <= rect.y < area.y + area.h
            if inside_y and area.x <= rect.x < area.x + area.w:
                return _crop(after, Rect(rect.x - area.x, rect.y - area.y, rect.w, rect.h))
        return _crop(self._prev, rect)

    def _source_lossy(self, scroll: Scroll) -> bool:
        top, bottom = scroll.y + scroll.dy, scroll.y + scroll.dy + scroll.h
        rows = slice(top // TILE, (bottom - 1) // TILE + 1)
        cols = slice(scroll.x // TILE, (scroll.x + scroll.w - 1) // TILE + 1)
        return bool(self._lossy[rows, cols].any())

    def _reset(self, height: int, width: int) -> npt.NDArray[np.bool_]:
        shape = grid_shape(height, width)
        self._lossy = np.zeros(shape, np.bool_)
        self._changed_at = np.full(shape, -np.inf)
        return np.ones(shape, np.bool_)

    def _exact_tiles(
        self, pixels: Pixels, candidates: npt.NDArray[np.bool_], fresh: bool
    ) -> tuple[list[Tile], npt.NDArray[np.bool_]]:
        """XOR or lossless tiles for the candidates; the rest is marked for JPEG."""
        height, width = pixels.shape[:2]
        tiles: list[Tile] = []
        jpeg = np.zeros_like(candidates)
        for row, col in np.argwhere(candidates):
            rect = tile_rect(int(row), int(col), height, width)
            tile = self._exact_tile(pixels, rect, use_xor=not fresh and not self._lossy[row, col])
            if tile is None:
                jpeg[row, col] = True
            else:
                tiles.append(tile)
        return tiles, jpeg

    def _exact_tile(self, pixels: Pixels, rect: Rect, *, use_xor: bool) -> Tile | None:
        view = _crop(pixels, rect)
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
            tile = _tile(rect, Encoding.LOSSLESS, encode_lossless(_crop(pixels, rect)))
            spent += len(tile.payload)
            tiles.append(tile)
            self._lossy[row, col] = False
        return tiles


def _busiest(changed: npt.NDArray[np.bool_], parts: list[Rect] | None) -> npt.NDArray[np.bool_]:
    """The changed tiles of the part where most changed (all of them without parts)."""
    if not parts:
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


def _crop(pixels: Pixels, rect: Rect) -> Pixels:
    return pixels[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w]


def _tile(rect: Rect, encoding: Encoding, payload: bytes) -> Tile:
    return Tile(rect.x, rect.y, rect.w, rect.h, encoding, payload)
