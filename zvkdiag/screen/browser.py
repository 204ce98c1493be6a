"""Wire frames translated into what a browser can draw without help.

A browser decodes JPEG natively but not zstd, so the kernel side (which has
already applied the frame to its canvas) sends JPEG tiles through untouched,
COPY tiles as a canvas-to-itself ``drawImage``, and every other exact tile
(lossless or XOR) as raw RGBA cut from the canvas: no
decoding in JavaScript, no re-encoding in Python, one array swizzle per tile
(~20 µs for 64×64).  The price is bandwidth on the kernel→browser hop
(16 KB per exact 64×64 tile), which is local or LAN in practice.

One browser message per frame: a small JSON header and one binary buffer per
tile, in tile order (``widget.send(content, buffers)``); never base64, never a
synced trait.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from zvkdiag.screen.codec import Encoding, parse_copy
from zvkdiag.screen.frames import Frame
from zvkdiag.screen.reassemble import Canvas

__all__ = ["BROWSER_COPY", "BROWSER_JPEG", "BROWSER_RGBA", "browser_message", "repaint_message"]

BROWSER_JPEG: Final = "jpeg"
BROWSER_RGBA: Final = "rgba"
BROWSER_COPY: Final = "copy"  # [x, y, w, h, "copy", source x, source y], empty buffer

Message = tuple[dict[str, Any], list[bytes]]


def browser_message(frame: Frame, canvas: Canvas, *, wire_bytes: int) -> Message:
    """The browser message for a frame that ``canvas`` has just applied."""
    tiles: list[list[int | str]] = []
    buffers: list[bytes] = []
    for tile in frame.tiles:
        entry: list[int | str] = [tile.x, tile.y, tile.w, tile.h]
        if tile.encoding is Encoding.JPEG:
            entry.append(BROWSER_JPEG)
            data = tile.payload
        elif tile.encoding is Encoding.COPY:
            entry.extend((BROWSER_COPY, *parse_copy(tile.payload)))
            data = b""
        else:
            entry.append(BROWSER_RGBA)
            data = _rgba(canvas.region(tile.x, tile.y, tile.w, tile.h))
        tiles.append(entry)
        buffers.append(data)
    return _header(
        frame.seq, frame.width, frame.height, frame.captured_at, wire_bytes, tiles
    ), buffers


def repaint_message(canvas: Canvas) -> Message | None:
    """The whole canvas as one exact tile (a browser view that was just (re)opened)."""
    pixels = canvas.pixels()
    if pixels.size == 0:
        return None
    height, width = pixels.shape[:2]
    tiles: list[list[int | str]] = [[0, 0, width, height, BROWSER_RGBA]]
    return _header(canvas.last_seq, width, height, 0.0, 0, tiles), [_rgba(pixels)]


def _header(
    seq: int,
    width: int,
    height: int,
    captured_at: float,
    wire_bytes: int,
    tiles: list[list[int | str]],
) -> dict[str, Any]:
    return {
        "type": "frame", "seq": seq, "w": width, "h": height,
        "ts": captured_at, "wire": wire_bytes, "tiles": tiles,
    }  # fmt: skip


def _rgba(bgrx: npt.NDArray[np.uint8]) -> bytes:
    rgba = np.empty_like(bgrx)
    rgba[..., 0] = bgrx[..., 2]
    rgba[..., 1] = bgrx[..., 1]
    rgba[..., 2] = bgrx[..., 0]
    rgba[..., 3] = 255
    return rgba.tobytes()
