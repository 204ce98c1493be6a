"""Move detection: a rectangle of the new frame that is the old frame shifted both ways.

A window dragged across the screen changes every tile it covers, yet all of
it was on the screen a moment before, a few pixels away.  The viewer copies
it from its own canvas (``Encoding.COPY``: the wire format always carried a
source x and y), so only the strips it uncovered travel.  Vertical scrolling
(``scroll``) is the special case this does not need to look for.

Detection, all inside the bounding box of the changed tiles, ~1-3 ms when
many tiles changed (skipped otherwise):

1. a few seed rows; in each, the 32-pixel segment with the most colour
   changes (a flat stretch would match anywhere);
2. the seed's 16-row block searched in the old frame up to ``MAX_MOVE``
   pixels away (one ``bytes.find`` pass over those rows): the nearest
   place other than where it is proposes an offset;
3. per offset, where new and shifted old pixels are equal; around each
   seed the rectangle of equal pixels that covers the most *changed*
   pixels wins (a wallpaper gradient also matches shifted sideways, but
   did not change, and a rectangle that takes it in may cut the window).
   It is equal pixel for pixel by construction, so a false proposal only
   costs the time to look.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from zvkdiag.screen.scroll import Scroll, changed_box
from zvkdiag.screen.tiles import TILE

__all__ = ["MAX_MOVE", "find_move"]

MAX_MOVE: Final = 64  # pixels a window may move between two grabs and still be found
SEGMENT: Final = 32  # pixels of a seed
BLOCK_ROWS: Final = 16  # rows below the seed that must lie at the same offset
MIN_CHANGES: Final = 4  # colour changes a seed needs to be worth looking for
SEEDS: Final = 5
MIN_MOVE_AREA: Final = 4 * TILE * TILE  # smaller moves are cheaper sent as they are
COARSE: Final = 8  # rows between the rectangles tried first
BLOCK: Final = 8  # pixels a side of the blocks whose changed pixels are counted

Pixels = npt.NDArray[np.uint8]
Words = npt.NDArray[np.uint32]
Ints = npt.NDArray[np.int64]


def find_move(old: Pixels, new: Pixels, changed: npt.NDArray[np.bool_]) -> Scroll | None:
    """The rectangle of ``new`` that is ``old`` shifted by (dx, dy) ≠ (0, 0), or None."""
    box = changed_box(changed, *new.shape[:2])
    if box is None:
        return None
    y0, y1, x0, x1 = box
    old_words, new_words = _words(old), _words(new)
    seeds: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for y in np.linspace(y0, y1 - 1, SEEDS + 2, dtype=int)[1:-1]:
        seed = _seed(new_words[y, x0:x1])
        if seed is not None:
            offset = _search(old_words, new_words, int(y), x0 + seed)
            if offset is not None:
                seeds.setdefault(offset, []).append((int(y) - y0, seed))
    if not seeds:
        return None
    area = (slice(y0, y1), slice(x0, x1))
    counts = _Changed(new_words[area] != old_words[area])
    best, most = None, 0
    for (dx, dy), where in seeds.items():
        same = _same(old_words, new_words, box, dx, dy)
        for y, x in where:
            (top, bottom, left, right), covered = _grow(same, counts, y, x)
            if covered > most:
                best = Scroll(x0 + left, y0 + top, right - left, bottom - top, dy, dx)
                most = covered
    if best is None or best.w * best.h < MIN_MOVE_AREA:
        return None
    moved = new_words[best.y : best.y + best.h, best.x : best.x + best.w]
    top, left = best.y + best.dy, best.x + best.dx
    return (
        best if np.array_equal(moved, old_words[top : top + best.h, left : left + best.w]) else None
    )


def _words(pixels: Pixels) -> Words:
    words: Words = pixels.view(np.uint32)[..., 0]
    return words


def _seed(row: Words) -> int | None:
    """Start of the segment of ``row`` with the most colour changes, if it has enough."""
    if row.size < SEGMENT:
        return None
    changes = np.concatenate(([0], np.cumsum(row[1:] != row[:-1])))
    per_segment = changes[SEGMENT - 1 :] - changes[: row.size - SEGMENT + 1]
    best = int(per_segment.argmax())
    return best if per_segment[best] >= MIN_CHANGES else None


def _search(old: Words, new: Words, y: int, x: int) -> tuple[int, int] | None:
    """(dx, dy) at which the seed (new row y from x) and the rows below it lie in ``old``.

    One ``bytes.find`` pass over the rows within reach; of the places where
    the seed's whole block matches (a row of it alone is not enough: a title
    bar is the same row many times over), the nearest in rows wins.
    """
    height, width = old.shape
    block = new[y : y + BLOCK_ROWS, x : x + SEGMENT]
    top, bottom = max(0, y - MAX_MOVE), min(height - block.shape[0], y + MAX_MOVE) + 1
    left, right = max(0, x - MAX_MOVE), min(width, x + SEGMENT + MAX_MOVE)
    haystack = np.ascontiguousarray(old[top:bottom, left:right]).tobytes()
    needle, row_bytes = block[0].tobytes(), 4 * (right - left)
    best: tuple[int, int] | None = None
    at = haystack.find(needle)
    while at >= 0:
        row, column = divmod(at, row_bytes)
        dx, dy = left + column // 4 - x, top + row - y
        nearer = best is None or abs(dy) < abs(best[1])
        on_pixel = column % 4 == 0 and column + len(needle) <= row_bytes
        if nearer and on_pixel and (dx, dy) != (0, 0):
            source = old[y + dy : y + dy + block.shape[0], x + dx : x + dx + SEGMENT]
            if np.array_equal(source, block):
                best = dx, dy
        at = haystack.find(needle, at + 1)
    return best


class _Changed:
    """Changed pixels per BLOCK×BLOCK block, summed: a rectangle's count to within its edges.

    Only compares candidate rectangles, so blocks suffice (a summed-area
    table per pixel cost 3 ms for a 1000×800 box, most of a search).
    """

    def __init__(self, mask: npt.NDArray[np.bool_]) -> None:
        height, width = -(-mask.shape[0] // BLOCK), -(-mask.shape[1] // BLOCK)
        padded = np.zeros((height * BLOCK, width * BLOCK), np.bool_)
        padded[: mask.shape[0], : mask.shape[1]] = mask
        blocks = padded.reshape(height, BLOCK, width, BLOCK).sum(axis=(1, 3), dtype=np.int32)
        self._table = np.zeros((height + 1, width + 1), np.int64)
        np.cumsum(np.cumsum(blocks, axis=0), axis=1, out=self._table[1:, 1:])

    def covered(self, top: Ints, bottom: Ints, left: Ints, right: Ints) -> Ints:
        """Changed pixels in [top, bottom) × [left, right), broadcast, rounded to blocks."""
        t, b, x0, x1 = ((edge + BLOCK // 2) // BLOCK for edge in (top, bottom, left, right))
        table = self._table
        counts: Ints = table[b, x1] - table[t, x1] - table[b, x0] + table[t, x0]
        return counts


def _same(
    old: Words, new: Words, box: tuple[int, int, int, int], dx: int, dy: int
) -> npt.NDArray[np.bool_]:
    """Where in the box ``new`` equals ``old`` shifted by (dx, dy) (False where off screen)."""
    y0, y1, x0, x1 = box
    height, width = old.shape
    same = np.zeros((y1 - y0, x1 - x0), np.bool_)
    top, bottom = max(y0, -dy), min(y1, height - dy)
    left, right = max(x0, -dx), min(x1, width - dx)
    if bottom > top and right > left:
        same[top - y0 : bottom - y0, left - x0 : right - x0] = (
            new[top:bottom, left:right] == old[top + dy : bottom + dy, left + dx : right + dx]
        )
    return same


def _grow(
    same: npt.NDArray[np.bool_], counts: _Changed, y: int, x: int
) -> tuple[tuple[int, int, int, int], int]:
    """((first row, end row, left, right), changed pixels covered) of the seed's rectangle."""
    rows = _run(np.all(same[:, x : x + SEGMENT], axis=1), y)
    if rows.stop <= rows.start:
        return (y, y, x, x), 0
    starts, ends = _spans(same[rows], x)
    first, last, left, right, covered = _best_rows(starts, ends, y - rows.start, counts, rows.start)
    return (rows.start + first, rows.start + last, left, right), covered


def _spans(same: npt.NDArray[np.bool_], x: int) -> tuple[Ints, Ints]:
    """Per row: the start and end of its run of equal pixels through column ``x``."""
    before = ~same[:, x::-1]  # from x leftwards
    after = ~same[:, x:]
    starts = np.where(before.any(axis=1), x + 1 - before.argmax(axis=1), 0)
    ends = np.where(after.any(axis=1), x + after.argmax(axis=1), same.shape[1])
    return starts.astype(np.int64), ends.astype(np.int64)


def _best_rows(
    starts: Ints, ends: Ints, seed: int, counts: _Changed, offset: int
) -> tuple[int, int, int, int, int]:
    """The rows seed-u … seed+d (and their common columns) that cover most changed pixels.

    Up to u rows above and d below, the common columns are running maxima
    of ``starts`` and minima of ``ends``; every (u, d) COARSE rows apart is
    tried at once, then every pair near the best.
    """
    up_left = np.maximum.accumulate(starts[seed::-1])
    up_right = np.minimum.accumulate(ends[seed::-1])
    down_left = np.maximum.accumulate(starts[seed:])
    down_right = np.minimum.accumulate(ends[seed:])

    def best_of(ups: Ints, downs: Ints) -> tuple[int, int, int]:
        left = np.maximum(up_left[ups][:, None], down_left[downs][None, :])
        right = np.maximum(np.minimum(up_right[ups][:, None], down_right[downs][None, :]), left)
        first, last = (offset + seed - ups)[:, None], (offset + seed + downs + 1)[None, :]
        covered = counts.covered(first, last, left, right)
        score = (covered << 22) + (right - left) * (last - first)  # then the bigger one
        u, d = np.unravel_index(int(score.argmax()), score.shape)
        return int(ups[u]), int(downs[d]), int(covered[u, d])

    above, below = up_left.size, down_left.size
    u, d, _ = best_of(_coarse(above), _coarse(below))
    ups = np.arange(max(0, u - COARSE), min(above, u + COARSE + 1))
    u, d, covered = best_of(ups, np.arange(max(0, d - COARSE), min(below, d + COARSE + 1)))
    left = max(int(up_left[u]), int(down_left[d]))
    right = min(int(up_right[u]), int(down_right[d]))
    return seed - u, seed + d + 1, left, max(left, right), covered


def _coarse(size: int) -> Ints:
    return np.unique(np.append(np.arange(0, size, COARSE), size - 1))


def _run(ok: npt.NDArray[np.bool_], at: int) -> slice:
    """The longest run of True in ``ok`` that contains ``at`` (empty if ``ok[at]`` is False)."""
    if not ok[at]:
        return slice(at, at)
    breaks = np.flatnonzero(~ok)
    before, after = breaks[breaks < at], breaks[breaks > at]
    return slice(
        int(before.max()) + 1 if before.size else 0, int(after.min()) if after.size else ok.size
    )
