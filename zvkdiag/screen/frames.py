"""Screen wire messages, v1: one frame per message, one small control message back.

A frame (customer → engineer), all integers big endian::

    header  "ZS" | version u8 | flags u8 | seq u64 | width u16 | height u16
            | captured_at f64 (unix seconds) | tile count u16
    tiles   count × ( x u16 | y u16 | w u16 | h u16 | encoding u8 | length u32 )
    payload the tiles' payloads, concatenated in tile order

A control (engineer → customer)::

    "ZC" | version u8 | kind u8 | value u64

Everything is bounded (``MAX_FRAME_BYTES``, ``MAX_TILES``, ``MAX_SIDE``); a
tile outside the screen, a length that does not add up or an unknown encoding
is a ``ProtocolError``.  docs/screen.md lists the fields one per line.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Final

from zvkdiag._errors import ProtocolError
from zvkdiag.screen.codec import Encoding, parse_copy

__all__ = [
    "FLAG_SECURE_DESKTOP",
    "MAX_CONTROL_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_SIDE",
    "MAX_TILES",
    "VERSION",
    "Control",
    "ControlKind",
    "Frame",
    "Tile",
    "decode_control",
    "decode_frame",
    "encode_control",
    "encode_frame",
]

VERSION: Final = 1
MAX_FRAME_BYTES: Final = 48 * 1024 * 1024  # a lossless 4K keyframe of noise still fits
MAX_TILES: Final = 16384
MAX_SIDE: Final = 8192
FLAG_KEYFRAME: Final = 0x01
FLAG_SECURE_DESKTOP: Final = 0x02
"""The customer's screen is on Windows' secure desktop (UAC, lock screen): no picture."""

_FRAME_MAGIC: Final = b"ZS"
_CONTROL_MAGIC: Final = b"ZC"
_HEADER = struct.Struct(">2sBBQHHdH")
_TILE = struct.Struct(">HHHHBI")
_CONTROL = struct.Struct(">2sBBQ")
MAX_CONTROL_BYTES: Final = _CONTROL.size


@dataclass(frozen=True, slots=True)
class Tile:
    """One rectangle of a frame and its encoded pixels."""

    x: int
    y: int
    w: int
    h: int
    encoding: Encoding
    payload: bytes


@dataclass(frozen=True, slots=True)
class Frame:
    """One screen update.

    ``keyframe`` frames cover the whole screen and need no earlier state: the
    viewer may have lost frames before one (a dropped message, a reload).
    ``secure_desktop``: the customer is answering a Windows security prompt
    (the secure desktop, which no program of theirs can capture); such a frame
    has no tiles, and the next picture is a keyframe.
    """

    seq: int
    width: int
    height: int
    captured_at: float
    keyframe: bool
    tiles: tuple[Tile, ...]
    secure_desktop: bool = False

    @property
    def payload_bytes(self) -> int:
        """Bytes of encoded pixels (without headers)."""
        return sum(len(t.payload) for t in self.tiles)


class ControlKind(enum.IntEnum):
    """What the viewer tells the capturing side."""

    ACK = 1  # value: every frame up to this seq is shown
    PAUSE = 2
    RESUME = 3
    REFRESH = 4  # send a keyframe next (the viewer lost its picture)


@dataclass(frozen=True, slots=True)
class Control:
    kind: ControlKind
    value: int = 0


def encode_frame(frame: Frame) -> bytes:
    """Serialise one frame as one bytes blob (what goes over the SSH channel)."""
    _check_frame(frame)
    flags = (FLAG_KEYFRAME if frame.keyframe else 0) | (
        FLAG_SECURE_DESKTOP if frame.secure_desktop else 0
    )
    parts = [
        _HEADER.pack(
            _FRAME_MAGIC,
            VERSION,
            flags,
            frame.seq,
            frame.width,
            frame.height,
            frame.captured_at,
            len(frame.tiles),
        )
    ]
    parts.extend(_TILE.pack(t.x, t.y, t.w, t.h, t.encoding, len(t.payload)) for t in frame.tiles)
    parts.extend(t.payload for t in frame.tiles)
    blob = b"".join(parts)
    if len(blob) > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {len(blob)} bytes exceeds {MAX_FRAME_BYTES}")
    return blob


def decode_frame(blob: bytes) -> Frame:
    """Parse one frame, checking every bound.

    Raises
    ------
    ProtocolError
        Wrong magic or version, truncated, oversized, or a tile that does
        not lie on the screen.
    """
    if len(blob) > MAX_FRAME_BYTES:
        raise ProtocolError(f"screen frame of {len(blob)} bytes exceeds {MAX_FRAME_BYTES}")
    if len(blob) < _HEADER.size:
        raise ProtocolError("truncated screen frame header")
    magic, version, flags, seq, width, height, captured_at, count = _HEADER.unpack_from(blob)
    if magic != _FRAME_MAGIC or version != VERSION:
        raise ProtocolError(f"not a v{VERSION} screen frame (magic {magic!r}, version {version})")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE) or count > MAX_TILES:
        raise ProtocolError(f"screen frame of {width}x{height} with {count} tiles is out of bounds")
    tiles = _decode_tiles(memoryview(blob), count, width, height)
    secure = bool(flags & FLAG_SECURE_DESKTOP)
    if secure and tiles:
        raise ProtocolError("a secure-desktop notice carries no tiles")
    keyframe = bool(flags & FLAG_KEYFRAME)
    return Frame(seq, width, height, captured_at, keyframe, tiles, secure_desktop=secure)


def _decode_tiles(view: memoryview, count: int, width: int, height: int) -> tuple[Tile, ...]:
    offset = _HEADER.size
    payload_at = offset + count * _TILE.size
    if payload_at > len(view):
        raise ProtocolError("truncated screen frame tile table")
    tiles = []
    for _ in range(count):
        x, y, w, h, raw_enc, length = _TILE.unpack_from(view, offset)
        offset += _TILE.size
        if w == 0 or h == 0 or x + w > width or y + h > height:
            raise ProtocolError(f"screen tile {w}x{h}+{x}+{y} lies outside {width}x{height}")
        if payload_at + length > len(view):
            raise ProtocolError("screen frame is shorter than its tiles say")
        try:
            encoding = Encoding(raw_enc)
        except ValueError as exc:
            raise ProtocolError(f"unknown screen tile encoding {raw_enc}") from exc
        payload = bytes(view[payload_at : payload_at + length])
        if encoding is Encoding.COPY:
            sx, sy = parse_copy(payload)
            if sx + w > width or sy + h > height:
                raise ProtocolError(f"screen copy source {w}x{h}+{sx}+{sy} lies outside")
        tiles.append(Tile(x, y, w, h, encoding, payload))
        payload_at += length
    if payload_at != len(view):
        raise ProtocolError("screen frame has trailing bytes")
    return tuple(tiles)


def _check_frame(frame: Frame) -> None:
    if not (0 < frame.width <= MAX_SIDE and 0 < frame.height <= MAX_SIDE):
        raise ValueError(f"screen size {frame.width}x{frame.height} is out of bounds")
    if len(frame.tiles) > MAX_TILES:
        raise ValueError(f"{len(frame.tiles)} tiles exceed {MAX_TILES}")


def encode_control(control: Control) -> bytes:
    """Serialise a control message (ack, pause, resume, refresh)."""
    return _CONTROL.pack(_CONTROL_MAGIC, VERSION, control.kind, control.value)


def decode_control(blob: bytes) -> Control:
    """Parse a control message; anything but exactly one v1 control is a ProtocolError."""
    if len(blob) != _CONTROL.size:
        raise ProtocolError(
            f"screen control message of {len(blob)} bytes, expected {_CONTROL.size}"
        )
    magic, version, raw_kind, value = _CONTROL.unpack(blob)
    if magic != _CONTROL_MAGIC or version != VERSION:
        raise ProtocolError(f"not a v{VERSION} screen control (magic {magic!r}, version {version})")
    try:
        return Control(ControlKind(raw_kind), value)
    except ValueError as exc:
        raise ProtocolError(f"unknown screen control kind {raw_kind}") from exc
