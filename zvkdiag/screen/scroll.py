"""Scroll detection: a band of the new frame that is the old frame shifted vertically.

Scrolling a terminal or a document changes every tile of the window, but all
rows except a few new ones were on the screen before, a few pixels higher or
lower.  The viewer can copy them from its own canvas (``Encoding.COPY``), so
only the newly exposed rows travel.  On the bench scenario this turns a
~290 KB update of a scrolling ``less`` into a few KB.

Detection, ~3-5 ms when many tiles changed (skipped otherwise):

1. the columns that changed inside the changed tiles' bounding box;
2. a hash per row over those columns, old and new frame (a weighted sum of
   the row's pixels, one numpy pass; the new frame's hashes are kept and are
   the next frame's old ones when it looks at the same box: ``ScrollFinder``);
3. every new row whose hash occurs exactly once in the old frame votes for
   its offset; the most voted offset wins if enough rows agree;
4. the longest run of rows matching at that offset is verified pixel by
   pixel, so a hash collision can never put wrong pixels on the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from zvkdiag.screen.tiles import TILE, Rect

__all__ = [
    "MIN_SCROLL_ROWS",
    "MIN_SCROLL_TILES",
    "Scroll",
    "ScrollFinder",
    "changed_box",
    "find_scroll",
]

MIN_SCROLL_TILES: Final = 8  # fewer changed tiles: not worth looking
MIN_SCROLL_ROWS: Final = 24  # a band must be at least this tall

Pixels = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]
Hashes = npt.NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class Scroll:
    """``new[y:y+h, x:x+w] == old[y+dy : y+dy+h, x+dx : x+dx+w]``; ``dx`` is 0 when scrolled."""

    x: int
    y: int
    w: int
    h: int
    dy: int
    dx: int = 0


def changed_box(changed: npt.NDArray[np.bool_], height: int, width: int) -> Box | None:
    """(y0, y1, x0, x1) around the changed tiles; None if too few changed to look for a shift."""
    if int(changed.sum()) < MIN_SCROLL_TILES:
        return None
    rows, cols = np.nonzero(changed)
    y0, y1 = int(rows.min()) * TILE, min((int(rows.max()) + 1) * TILE, height)
    return y0, y1, int(cols.min()) * TILE, min((int(cols.max()) + 1) * TILE, width)


def find_scroll(old: Pixels, new: Pixels, changed: npt.NDArray[np.bool_]) -> Scroll | None:
    """The largest vertically shifted band inside the changed tiles, or None."""
    return ScrollFinder().find(old, new, changed)


@dataclass
class _Rows:
    """Hashes of rows ``y0``.. of a frame over the columns ``x0:x1``."""

    x0: int
    x1: int
    y0: int
    hashes: npt.NDArray[np.uint64]

    def slice(self, x0: int, x1: int, y0: int, y1: int) -> Hashes | None:
        inside = self.y0 <= y0 and y1 <= self.y0 + self.hashes.size
        if (x0, x1) != (self.x0, self.x1) or not inside:
            return None
        return self.hashes[y0 - self.y0 : y1 - self.y0]

    def update(self, new: Pixels, dirty: npt.NDArray[np.bool_]) -> None:
        """Hash again the rows of ``dirty`` tiles (the rest of ``new`` is as before)."""
        cols = slice(self.x0 // TILE, (self.x1 - 1) // TILE + 1)
        y1 = self.y0 + self.hashes.size
        for row in np.flatnonzero(dirty[:, cols].any(axis=1)):
            top, bottom = max(int(row) * TILE, self.y0), min((int(row) + 1) * TILE, y1)
            if top < bottom:
                words = _words(new)[top:bottom, self.x0 : self.x1]
                self.hashes[top - self.y0 : bottom - self.y0] = _hash_rows(words)


def _updated(kept: _Rows | None, new: Pixels, dirty: npt.NDArray[np.bool_]) -> _Rows | None:
    if kept is not None:
        kept.update(new, dirty)
    return kept


class ScrollFinder:
    """``find_scroll`` for a stream of frames: each frame's row hashes serve the next.

    The hashes of the new frame are kept; the next call takes them for its old
    frame where it looks at the same columns, and a frame that is not searched
    (too few changed tiles) only hashes its changed rows again.  Valid only
    while the ``new`` frame of one call is the ``old`` frame of the next (after
    a frame it did not see, call ``forget()``), and ``dirty`` must hold every
    tile that differs between the two.
    """

    def __init__(self) -> None:
        self._kept: _Rows | None = None

    def forget(self) -> None:
        self._kept = None

    def find(
        self,
        old: Pixels,
        new: Pixels,
        changed: npt.NDArray[np.bool_],
        dirty: npt.NDArray[np.bool_] | None = None,
        *,
        differs: Callable[[Rect], npt.NDArray[np.bool_] | None] | None = None,
    ) -> Scroll | None:
        """The largest vertically shifted band inside the ``changed`` tiles, or None.

        ``dirty``: all tiles that differ (default: ``changed``); ``changed`` may
        be fewer, the part to look in.  ``differs``: where ``new`` differs
        from ``old`` in a rectangle, pixel by pixel, if the caller has compared
        it already (None: not), so the changed columns are not compared again.
        """
        kept, self._kept = self._kept, None  # the hashes of ``old``, where known
        dirty = changed if dirty is None else dirty
        box = changed_box(changed, *new.shape[:2])
        if box is None:
            self._kept = _updated(kept, new, dirty)
            return None
        y0, y1, x0, x1 = box
        old_words, new_words = _words(old)[y0:y1, x0:x1], _words(new)[y0:y1, x0:x1]
        known = None if differs is None else differs(Rect(x0, y0, x1 - x0, y1 - y0))
        span = _changed_columns(old_words, new_words, known)
        if span is None:
            self._kept = _updated(kept, new, dirty)
            return None
        x0, x1 = x0 + span[0], x0 + span[1]
        old_sig = None if kept is None else kept.slice(x0, x1, y0, y1)
        if old_sig is None:
            old_sig = _hash_rows(old_words[:, span[0] : span[1]])
        new_hashes = _hash_rows(new_words[:, span[0] : span[1]])
        self._kept = _Rows(x0, x1, y0, new_hashes)
        new_sig = new_hashes
        dy = _vote(old_sig, new_sig)
        if dy is None:
            return None
        band = _longest_match(old_sig, new_sig, dy)
        if band is None:
            return None
        top, bottom = y0 + band[0], y0 + band[1]
        shifted = _words(old)[top + dy : bottom + dy, x0:x1]
        if not np.array_equal(_words(new)[top:bottom, x0:x1], shifted):  # 4x fewer elements
            return None
        return Scroll(x0, top, x1 - x0, bottom - top, dy)


def _words(pixels: Pixels) -> npt.NDArray[np.uint32]:
    """(h, w) view of a BGRX frame, one 32-bit word a pixel (no copy)."""
    words: npt.NDArray[np.uint32] = pixels.view(np.uint32)[..., 0]
    return words


def _changed_columns(
    old: npt.NDArray[np.uint32],
    new: npt.NDArray[np.uint32],
    differs: npt.NDArray[np.bool_] | None = None,
) -> tuple[int, int] | None:
    """The first and past-the-last column where ``old`` and ``new`` differ.

    The box is that of the changed tiles, so its first and last tile
    columns hold a change: only those two strips are compared (a seventh of
    a 900-pixel-wide window), the whole box only if they do not.  With
    ``differs`` (the caller's compare of the two) nothing is compared again.
    """

    def changed_in(cols: slice) -> npt.NDArray[np.intp]:
        mask = old[:, cols] != new[:, cols] if differs is None else differs[:, cols]
        return np.flatnonzero(mask.any(axis=0))

    width = old.shape[1]
    first, last = changed_in(slice(0, TILE)), changed_in(slice(width - TILE, width))
    if first.size and last.size and width >= TILE:
        return int(first[0]), width - TILE + int(last[-1]) + 1
    cols = changed_in(slice(0, width))
    if cols.size == 0:
        return None
    return int(cols[0]), int(cols[-1]) + 1


_weights = np.zeros(0, np.uint32)


def _hash_rows(words: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint64]:
    """Per row, the sum of its pixels times odd 32-bit weights (mod 2**32 each).

    Rows that differ in one pixel always differ here (an odd weight is
    invertible); other collisions are rare, and a collision can only cost a
    missed scroll, never a wrong pixel (the band is verified).  ~0.4 ms for
    640 rows of 770 pixels, 1.7x faster than hashing each row's bytes.
    """
    global _weights
    width = words.shape[1]
    if _weights.size < width:
        _weights = _odd_weights(max(width, 4096))
    sums: npt.NDArray[np.uint64] = (words * _weights[:width]).sum(axis=1, dtype=np.uint64)
    return sums


def _odd_weights(count: int) -> npt.NDArray[np.uint32]:
    """``count`` fixed, well-mixed odd 32-bit weights (splitmix64 of 0, 1, 2, ...).

    Computed, not drawn: the Windows exe leaves ``numpy.random`` out.
    """
    x = np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x & np.uint64(0xFFFFFFFF)).astype(np.uint32) | np.uint32(1)


def _vote(old_sig: Hashes, new_sig: Hashes) -> int | None:
    """The offset most new rows found once in the old rows vote for (ties: the smallest).

    Numpy throughout: the dictionary and counter of a row each cost ~1 ms for
    a 800-row window, a tenth of a scroll frame.
    """
    values, first, counts = np.unique(old_sig, return_index=True, return_counts=True)
    values, first = values[counts == 1], first[counts == 1]
    if values.size == 0:
        return None
    at = np.searchsorted(values, new_sig).clip(max=values.size - 1)
    found = values[at] == new_sig
    offsets = first[at[found]] - np.flatnonzero(found)
    offsets = offsets[offsets != 0] + old_sig.size  # shifted to be non-negative
    if offsets.size == 0:
        return None
    votes = np.bincount(offsets)
    best = int(votes.argmax())
    return best - old_sig.size if votes[best] >= MIN_SCROLL_ROWS // 2 else None


def _longest_match(old_sig: Hashes, new_sig: Hashes, dy: int) -> tuple[int, int] | None:
    """The longest run of rows (the first of equals) with ``new[y] == old[y + dy]``."""
    height = new_sig.size
    lo, hi = max(0, -dy), min(height, height - dy)
    if hi - lo < MIN_SCROLL_ROWS:
        return None
    ok = np.zeros(height + 2, np.bool_)  # row y at y + 1, a False either side
    ok[lo + 1 : hi + 1] = new_sig[lo:hi] == old_sig[lo + dy : hi + dy]
    edges = np.flatnonzero(ok[1:] != ok[:-1])  # where each run starts and ends
    starts, ends = edges[::2], edges[1::2]
    if starts.size == 0:
        return None
    best = int((ends - starts).argmax())
    if ends[best] - starts[best] < MIN_SCROLL_ROWS:
        return None
    return int(starts[best]), int(ends[best])
