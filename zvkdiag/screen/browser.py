"""Wire frames translated into what a browser can draw without help.

Where JupyterLab runs on a server, the kernel→browser websocket is a network
link of its own, so exact pixels travel compressed on it too.  The kernel
(which has already applied the frame to its canvas) keeps a *shadow*: the
pixels the browser shows and, per pixel, whether the browser is known to show
them exactly.  Per frame, in tile order:

- JPEG tiles go through untouched (the browser decodes JPEG itself); the
  browser's decode may differ from ours, so those pixels become unknown;
- COPY tiles become a canvas-to-itself ``drawImage`` (shadow copied alike);
- every exact tile (lossless, XOR, or any other exact encoding) is cut down
  to the rectangle where the canvas differs from what the browser shows
  (a typed letter, not its 64×64 tile) and skipped when nothing differs.
  Those rectangles' RGB bytes, one after the other, are compressed into
  one raw-deflate buffer per frame, which the browser's native
  ``DecompressionStream("deflate-raw")`` inflates (no decoder shipped in
  JavaScript, and no dependence on the relay's encoding: whatever the
  customer side chose is decoded here, what the browser gets is re-encoded
  from the canvas).

Few colours (screen text, forms, tables): when a frame's packed pixels have
at most 256 colours and that is smaller, they travel as a palette (``"pal"``:
its number of RGB entries, first) and one index byte per pixel, a third of
the bytes to deflate, and deflate finds the glyphs' runs in it more easily
(a table of numbers: 15 KB against 34 KB per frame at level 1).  A frame with
more colours (a first picture of antialiased text) goes in bands of 64 rows,
each a ``"pal"`` rectangle with a palette of its own when it has few enough
colours, else ``"rgb"``.

One deflate stream runs across frames (``lean=True``): each frame's
buffer ends with a sync flush, so the browser inflates it whole, and the
stream's 32 KB window remembers the glyphs and shapes it has seen (a typed
letter, a spinner's arc) the way a VNC session's zlib stream does.  A frame
that starts a stream has no ``"more"`` in its header; the next ones carry
``"more": 1``.  The stream starts again with every repaint (a browser view
that opened or lost its place, e.g. after a message Jupyter Server dropped)
and with a new stream or canvas size (``reset``).  The canvas size (``"w"``,
``"h"``) goes with the first frame of a stream and of a size, and with each
repaint.

Why deflate of raw RGB and not PNG: for the same pixels zlib level 1 of
interleaved RGB was 2–4× faster to encode than Pillow's PNG at level 1 and no
larger on screen text (docs/benchmarks.md, "Second hop"); once inflated, the
browser fills one ``ImageData`` per rectangle (one loop) and puts it.

``form="rgba"`` keeps the former raw RGBA form (16 KB per exact 64×64 tile,
no shadow): for measurements and as a fallback.

One browser message per frame: a small JSON header and binary buffers, one
for each ``jpeg`` or ``rgba`` tile in tile order (``copy`` and ``rgb`` tiles
carry none: Jupyter's binary framing costs 8 bytes per buffer) and, when the
frame has ``rgb`` tiles, one more at the end with their deflated pixels
(header ``"rgb"``: its inflated length; ``"pal"``: the palette's length).
Neighbouring ``rgb`` rectangles of one row of tiles are joined into one.
Never base64, never a synced trait.
"""

from __future__ import annotations

import threading
import zlib
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from zvkdiag.screen.codec import Encoding, parse_copy
from zvkdiag.screen.frames import Frame, Tile
from zvkdiag.screen.reassemble import Canvas

__all__ = [
    "BROWSER_COPY",
    "BROWSER_JPEG",
    "BROWSER_PAL",
    "BROWSER_RGB",
    "BROWSER_RGBA",
    "BrowserHop",
    "HopForm",
]

BROWSER_JPEG: Final = "jpeg"
BROWSER_RGBA: Final = "rgba"  # w*h*4 raw bytes in the tile's own buffer
BROWSER_RGB: Final = "rgb"  # w*h*3 bytes inside the frame's deflated buffer
BROWSER_COPY: Final = "copy"  # [x, y, w, h, "copy", source x, source y], no buffer
BROWSER_PAL: Final = "pal"
"""[x, y, w, h, "pal", n]: n RGB entries, then w*h index bytes, inside the deflated buffer."""
STRIP: Final = 128
"""Pixels across of each piece of a first picture or repaint, sent column by column."""
PALETTE_BAND: Final = 64
"""Rows per band of a frame too colourful for one palette (each band tries its own)."""
DEFLATE_LEVEL: Final = 6
"""zlib level: on a palette's indices 6 gave 0.75x level 1's bytes (a table of numbers)."""
FORMER_DEFLATE_LEVEL: Final = 1
"""The former level, for RGB: 1 took a fifth of level 6's time for 1.7x its bytes."""
MAX_PALETTE: Final = 256  # colours that still index in one byte

HopForm = Literal["deflate", "rgba"]
Message = tuple[dict[str, Any], list[bytes]]
Pixels = npt.NDArray[np.uint8]


class BrowserHop:
    """Messages that bring the browser's canvas up to the kernel's, with what it shows.

    One per viewer widget; every browser view of the widget receives the same
    messages, so one shadow serves them all.  ``frame_message`` and
    ``repaint_message`` may be called from different threads (the session's
    loop, a comm callback): a lock keeps the shadow whole, and the caller
    must send the messages in the order they were made.
    """

    def __init__(self, *, form: HopForm = "deflate", lean: bool = True) -> None:
        self.form: HopForm = form
        self.lean = lean
        """One deflate stream, palettes, level 6; False: a stream per frame of RGB at level 1."""
        self._shown: Pixels = np.zeros((0, 0, 4), np.uint8)
        self._known = np.zeros((0, 0), np.bool_)
        self._deflate: Any = None  # the running deflate stream, None: start one
        self._sized = False  # the browser has been told the canvas size
        self._lock = threading.Lock()

    def reset(self) -> None:
        """A new stream or a new browser canvas: nothing is known to be shown."""
        with self._lock:
            self._known[...] = False
            self._deflate = None
            self._sized = False

    def frame_message(self, frame: Frame, canvas: Canvas, *, wire_bytes: int) -> Message:
        """The browser message for a frame that ``canvas`` has just applied."""
        out = _Builder(_header(frame.seq, frame.width, frame.height, frame.captured_at, wire_bytes))
        out.whole = frame.keyframe
        with self._lock:
            self._fit(frame.width, frame.height)
            for tile in frame.tiles:
                self._translate(tile, canvas, out)
            if self.form == "deflate":
                self._settle_copies(frame, canvas, out)
            if self._sized and self.lean:  # the size goes with the first frame after a change
                del out.header["w"], out.header["h"]
            self._sized = True
            return self._finish(out)

    def repaint_message(self, canvas: Canvas) -> Message | None:
        """The whole canvas as one exact tile (a browser view that was just (re)opened)."""
        pixels = canvas.pixels()
        if pixels.size == 0:
            return None
        height, width = pixels.shape[:2]
        out = _Builder(_header(canvas.last_seq, width, height, 0.0, 0))
        out.whole = True
        with self._lock:
            self._fit(width, height)
            if self.form == "rgba":
                out.add([0, 0, width, height, BROWSER_RGBA], _rgba(pixels))
            else:
                self._shown[...] = pixels
                self._known[...] = True
                self._deflate = None  # a view that (re)opened joins here
                self._sized = True
                out.add_rgb(0, 0, pixels)
            return self._finish(out)

    def _finish(self, out: _Builder) -> Message:
        """The message, its packed pixels continuing the deflate stream (under the lock)."""
        if not out.packed:
            return out.finish(None)
        more = self._deflate is not None and self.lean
        if not more:
            level = DEFLATE_LEVEL if self.lean else FORMER_DEFLATE_LEVEL
            self._deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        message = out.finish(self._deflate, palette=self.lean)
        if more:
            message[0]["more"] = 1
        return message

    # -- one tile ---------------------------------------------------------------------

    def _translate(self, tile: Tile, canvas: Canvas, out: _Builder) -> None:
        x, y, w, h = tile.x, tile.y, tile.w, tile.h
        if tile.encoding is Encoding.JPEG:
            self._known[y : y + h, x : x + w] = False
            out.add([x, y, w, h, BROWSER_JPEG], tile.payload)
        elif tile.encoding is Encoding.COPY:
            sx, sy = parse_copy(tile.payload)
            self._shown[y : y + h, x : x + w] = self._shown[sy : sy + h, sx : sx + w].copy()
            self._known[y : y + h, x : x + w] = self._known[sy : sy + h, sx : sx + w].copy()
            out.add([x, y, w, h, BROWSER_COPY, sx, sy], None)
        elif self.form == "rgba":
            out.add([x, y, w, h, BROWSER_RGBA], _rgba(canvas.region(x, y, w, h)))
        else:
            self._exact(x, y, canvas.region(x, y, w, h), out)

    def _settle_copies(self, frame: Frame, canvas: Canvas, out: _Builder) -> None:
        """Correct copied areas that differ from the canvas after the whole frame.

        A copy moves what the browser shows, which is the canvas' picture only
        if nothing came in between (a repaint made from a canvas that already
        held this frame); the compare is cheap and usually finds nothing.
        """
        for tile in frame.tiles:
            if tile.encoding is Encoding.COPY:
                region = canvas.region(tile.x, tile.y, tile.w, tile.h)
                self._exact(tile.x, tile.y, region, out, known_only=True)

    def _exact(
        self, x: int, y: int, pixels: Pixels, out: _Builder, *, known_only: bool = False
    ) -> None:
        """Send the rectangle of ``pixels`` the browser does not show exactly.

        ``known_only``: only where the browser was known to be exact (a copied
        JPEG approximation stays one until its refinement arrives).
        """
        h, w = pixels.shape[:2]
        shown = self._shown[y : y + h, x : x + w]
        known = self._known[y : y + h, x : x + w]
        differs = (_words(pixels) ^ _words(shown)) & _COLOUR != 0  # whole pixels: ~10x faster
        differs = differs & known if known_only else differs | ~known
        rows = np.flatnonzero(differs.any(axis=1))
        if rows.size == 0:
            return  # the browser already shows exactly these pixels
        cols = np.flatnonzero(differs.any(axis=0))
        top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        changed = pixels[top:bottom, left:right]
        shown[top:bottom, left:right] = changed
        known[top:bottom, left:right] = True
        out.add_rgb(x + left, y + top, changed)

    def _fit(self, width: int, height: int) -> None:
        if self._shown.shape[:2] != (height, width):  # a new size clears the browser's canvas
            self._shown = np.zeros((height, width, 4), np.uint8)
            self._known = np.zeros((height, width), np.bool_)
            self._deflate = None
            self._sized = False


class _Builder:
    """One browser message in the making."""

    def __init__(self, header: dict[str, Any]) -> None:
        self.header = header
        self.tiles: list[list[int | str]] = []
        self.buffers: list[bytes] = []
        self.packed: list[list[Pixels]] = []  # per rgb tile its BGRX parts, left to right
        self.whole = False  # a keyframe or a repaint: the whole picture

    def add(self, entry: list[int | str], data: bytes | None) -> None:
        self.tiles.append(entry)
        if data is not None:
            self.buffers.append(data)

    def add_rgb(self, x: int, y: int, pixels: Pixels) -> None:
        h, w = pixels.shape[:2]
        last = self.tiles[-1] if self.tiles else None
        if last is not None and last[4] == BROWSER_RGB and last[1] == y and last[3] == h:
            lx, lw = int(last[0]), int(last[2])
            if lx + lw == x:  # the next part of the same row: one rectangle
                last[2] = lw + w
                self.packed[-1].append(pixels)
                return
        self.tiles.append([x, y, w, h, BROWSER_RGB])
        self.packed.append([pixels])

    def finish(self, deflate: Any, *, palette: bool = True) -> Message:
        """The message; packed pixels (if any) go through ``deflate`` up to a sync flush."""
        self.header["tiles"] = self.tiles
        if self.packed:
            rects = [np.concatenate(parts, axis=1) for parts in self.packed]
            raw = _indexed(rects) if palette else None
            if raw is not None and self.whole and self._only_packed():
                rects = self._in_strips(rects)
                raw = _indexed(rects)
            if raw is not None:
                self.header["pal"] = (len(raw) - sum(r.shape[0] * r.shape[1] for r in rects)) // 3
            elif palette:
                raw = self._banded(rects)
            else:
                raw = b"".join(_rgb(rect) for rect in rects)
            self.buffers.append(deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH))
            self.header["rgb"] = len(raw)
        return self.header, self.buffers

    def _only_packed(self) -> bool:
        return all(entry[4] == BROWSER_RGB for entry in self.tiles)

    def _in_strips(self, rects: list[Pixels]) -> list[Pixels]:
        """The rectangles cut into pieces ``STRIP`` wide, ordered by column, then row.

        Deflate finds repeats only 32 KB back: in a screen's rows (a whole picture's
        rows are 1024 pixels or more) a text line and the next one are 15 rows, 15 KB
        and more apart, out of reach when the background's own repeats fill its search.
        In strips the same lines are a few hundred bytes apart: a document beside a
        desktop went from 38 to 6 KB.  Only for a whole picture (a keyframe, a repaint) of
        ``rgb`` rectangles alone: their order does not matter, no copy depends on it; the
        small rectangles of an ordinary frame stay whole rows (a table's numbers: strips
        cost ~7 % more there).
        """
        pieces: list[tuple[int, int, int, int, Pixels]] = []
        for entry, rect in zip(self.tiles, rects, strict=True):
            x, y = int(entry[0]), int(entry[1])
            height, width = rect.shape[:2]
            for left in range(0, width, STRIP):
                part = rect[:, left : left + STRIP]
                pieces.append((x + left, y, part.shape[1], height, part))
        pieces.sort(key=lambda piece: (piece[0], piece[1]))
        self.tiles[:] = [[x, y, w, h, BROWSER_RGB] for x, y, w, h, _ in pieces]
        return [part for *_, part in pieces]

    def _banded(self, rects: list[Pixels]) -> bytes:
        """Too many colours for one palette (a first picture of antialiased text, a photo):
        each band of ``PALETTE_BAND`` rows of each ``rgb`` rectangle goes as a ``pal``
        rectangle of its own when it has few enough colours, else as ``rgb``.  Bands of a
        text screen mostly have: the first picture of a form ~0.6x the bytes of RGB."""
        tiles: list[list[int | str]] = []
        chunks: list[bytes] = []
        pending = iter(rects)
        for entry in self.tiles:
            if entry[4] != BROWSER_RGB:
                tiles.append(entry)
                continue
            rect = next(pending)
            x, y, w, _ = (int(v) for v in entry[:4])
            for top in range(0, rect.shape[0], PALETTE_BAND):
                band = rect[top : top + PALETTE_BAND]
                rows = band.shape[0]
                indexed = _indexed([band])
                if indexed is None:
                    tiles.append([x, y + top, w, rows, BROWSER_RGB])
                    chunks.append(_rgb(band))
                else:
                    entries = (len(indexed) - w * rows) // 3
                    tiles.append([x, y + top, w, rows, BROWSER_PAL, entries])
                    chunks.append(indexed)
        self.tiles[:] = tiles
        return b"".join(chunks)


def _header(
    seq: int, width: int, height: int, captured_at: float, wire_bytes: int
) -> dict[str, Any]:
    return {
        "type": "frame", "seq": seq, "w": width, "h": height,
        "ts": round(captured_at, 3), "wire": wire_bytes,
    }  # fmt: skip


_COLOUR: Final = np.uint32(0x00FFFFFF)  # B, G, R of a little-endian BGRX word


def _words(bgrx: Pixels) -> npt.NDArray[np.uint32]:
    """Each pixel as one uint32 (the last axis must be contiguous: canvas copies and slices)."""
    return bgrx.view("<u4")[..., 0]


def _indexed(rects: list[Pixels]) -> bytes | None:
    """RGB palette then one index per pixel, or None: too many colours, or no smaller.

    ``pd.factorize`` hashes: ~4 ms for a 1024x768 screen, ``np.unique`` sorts: ~36 ms.
    """
    words = np.concatenate([(_words(rect) & _COLOUR).ravel() for rect in rects])
    codes, colours = pd.factorize(words, sort=True)  # the same colours: the same palette bytes
    count = len(colours)
    if count > MAX_PALETTE or 3 * count + words.size >= 3 * words.size:
        return None
    bgrx = np.asarray(colours, np.uint32).view(np.uint8).reshape(count, 4)
    return _rgb(bgrx) + codes.astype(np.uint8).tobytes()


def _rgb(bgrx: Pixels) -> bytes:
    return np.ascontiguousarray(bgrx[..., 2::-1]).tobytes()


def _rgba(bgrx: Pixels) -> bytes:
    rgba = np.empty_like(bgrx)
    rgba[..., 0] = bgrx[..., 2]
    rgba[..., 1] = bgrx[..., 1]
    rgba[..., 2] = bgrx[..., 0]
    rgba[..., 3] = 255
    return rgba.tobytes()
