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
   pixels away, the nearest rows first (``bytes.find`` on each row): the
   first place other than where it is proposes an offset;
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
    counts = _summed(new_words[area] != old_words[area])
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

    A row of the seed found alone is not enough (a title bar is the same
    row many times over), its block must be.
    """
    height, width = old.shape
    left, right = max(0, x - MAX_MOVE), min(width, x + SEGMENT + MAX_MOVE)
    block = new[y : y + BLOCK_ROWS, x : x + SEGMENT]
    needle = block[0].tobytes()
    for dy in sorted(range(-MAX_MOVE, MAX_MOVE + 1), key=abs):
        if not 0 <= y + dy <= height - block.shape[0]:
            continue
        haystack = old[y + dy, left:right].tobytes()
        at = haystack.find(needle)
        while at >= 0:
            dx = left + at // 4 - x
            if at % 4 == 0 and (dx, dy) != (0, 0):  # a match must start on a pixel
                source = old[y + dy : y + dy + block.shape[0], x + dx : x + dx + SEGMENT]
                if np.array_equal(source, block):
                    return dx, dy
            at = haystack.find(needle, at + 1)
    return None


def _summed(mask: npt.NDArray[np.bool_]) -> Ints:
    """Summed-area table: ``t[b, d] - t[a, d] - t[b, c] + t[a, c]`` counts mask[a:b, c:d]."""
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    np.cumsum(np.cumsum(mask, axis=0, dtype=np.int32), axis=1, out=table[1:, 1:])
    return table


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
    same: npt.NDArray[np.bool_], counts: Ints, y: int, x: int
) -> tuple[tuple[int, int, int, int], int]:
    """((first row, end row, left, right), changed pixels covered) of the seed's rectangle."""
    rows = _run(np.all(same[:, x : x + SEGMENT], axis=1), y)
    if rows.stop <= rows.start:
        return (y, y, x, x), 0
    starts, ends = _spans(same[rows], x)
    first, last, left, right, covered = _best_rows(
        starts, ends, y - rows.start, counts[rows.start : rows.stop + 1]
    )
    return (rows.start + first, rows.start + last, left, right), covered


def _spans(same: npt.NDArray[np.bool_], x: int) -> tuple[Ints, Ints]:
    """Per row: the start and end of its run of equal pixels through column ``x``."""
    before = ~same[:, x::-1]  # from x leftwards
    after = ~same[:, x:]
    starts = np.where(before.any(axis=1), x + 1 - before.argmax(axis=1), 0)
    ends = np.where(after.any(axis=1), x + after.argmax(axis=1), same.shape[1])
    return starts.astype(np.int64), ends.astype(np.int64)


def _best_rows(starts: Ints, ends: Ints, seed: int, counts: Ints) -> tuple[int, int, int, int, int]:
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
        first, last = (seed - ups)[:, None], (seed + downs + 1)[None, :]
        covered = counts[last, right] - counts[first, right] - counts[last, left]
        covered += counts[first, left]
        u, d = np.unravel_index(int(covered.argmax()), covered.shape)
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
