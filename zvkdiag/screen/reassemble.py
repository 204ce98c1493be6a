"""The engineer-side picture: frames applied onto a BGRX canvas.

Once the customer's screen has settled (every JPEG tile refined), the canvas
equals the customer's screen pixel for pixel (the unused fourth byte is set
to 255 everywhere).  A lock makes ``image()`` safe to call from a widget
callback thread while the session thread applies frames.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt
from PIL import Image

from zvkdiag._errors import ProtocolError
from zvkdiag.screen.codec import Encoding, PaletteDecoder, decode_into, parse_copy
from zvkdiag.screen.frames import Frame, Tile
from zvkdiag.screen.tiles import TILE, grid_shape

__all__ = ["Canvas"]

Pixels = npt.NDArray[np.uint8]


class Canvas:
    """What the viewer shows, as a (height, width, 4) BGRX array."""

    def __init__(self) -> None:
        self._pixels: Pixels = np.zeros((0, 0, 4), np.uint8)
        self._lossy = np.zeros((0, 0), np.bool_)  # per 64×64 tile: shown as JPEG
        self._lock = threading.Lock()
        self._palette = PaletteDecoder()  # the stream's PALETTE context
        self.last_seq = 0

    @property
    def settled(self) -> bool:
        """True when a picture has arrived and no part of it is a JPEG approximation."""
        with self._lock:
            return self._pixels.size > 0 and not self._lossy.any()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height); (0, 0) before the first keyframe."""
        return self._pixels.shape[1], self._pixels.shape[0]

    def apply(self, frame: Frame) -> None:
        """Draw one frame.

        Raises
        ------
        ProtocolError
            The first frame, or one after a size change, is not a keyframe,
            or a tile cannot be decoded.  The canvas may then be partly
            updated; the stream should ask for a keyframe (REFRESH).
        """
        with self._lock:
            if (frame.width, frame.height) != self.size:
                if not frame.keyframe:
                    raise ProtocolError("a screen frame changed the screen size without a keyframe")
                self._pixels = np.zeros((frame.height, frame.width, 4), np.uint8)
                self._pixels[..., 3] = 255
                self._lossy = np.zeros(grid_shape(frame.height, frame.width), np.bool_)
            if frame.keyframe:
                self._palette.reset()
            for tile in frame.tiles:
                self._apply_tile(tile)
            self.last_seq = frame.seq

    def _apply_tile(self, tile: Tile) -> None:
        target = self._pixels[tile.y : tile.y + tile.h, tile.x : tile.x + tile.w]
        if tile.encoding is Encoding.COPY:
            sx, sy = parse_copy(tile.payload)
            target[...] = self._pixels[sy : sy + tile.h, sx : sx + tile.w].copy()
            return  # the encoder copies exact sources only; lossy marks stay (conservative)
        if tile.encoding is Encoding.PALETTE:
            self._palette.decode_into(tile.payload, target)
        else:
            decode_into(tile.encoding, tile.payload, target)
        height, width = self._pixels.shape[:2]
        if tile.encoding is Encoding.JPEG:  # every tile it touches is now approximate
            rows = slice(tile.y // TILE, -(-(tile.y + tile.h) // TILE))
            cols = slice(tile.x // TILE, -(-(tile.x + tile.w) // TILE))
            self._lossy[rows, cols] = True
            return
        full_rows = _covered(tile.y, tile.h, height)  # tiles it covers completely are exact
        full_cols = _covered(tile.x, tile.w, width)
        self._lossy[full_rows, full_cols] = False

    def region(self, x: int, y: int, w: int, h: int) -> Pixels:
        """A copy of one rectangle (BGRX)."""
        with self._lock:
            return self._pixels[y : y + h, x : x + w].copy()

    def pixels(self) -> Pixels:
        """A copy of the whole canvas (BGRX)."""
        with self._lock:
            return self._pixels.copy()

    def image(self) -> Image.Image:
        """The canvas as an RGB PIL image (lossless; what a snapshot stores)."""
        pixels = self.pixels()
        if pixels.size == 0:
            raise ValueError("no screen frame has arrived yet")
        return Image.fromarray(np.ascontiguousarray(pixels[..., 2::-1]), "RGB")


def _covered(start: int, length: int, limit: int) -> slice:
    """Tile indices whose whole extent (clipped to ``limit``) lies in [start, start+length)."""
    first = -(-start // TILE)
    end = start + length
    last = end // TILE if end < limit else -(-limit // TILE)
    return slice(first, max(first, last))
