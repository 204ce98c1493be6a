"""Screen wire messages: one frame per message, one small control message back.

Two versions.  v1 is stateless: every frame carries its whole header.  v2
(``FrameWriter`` / ``FrameReader``) is the compact form for small, frequent
changes (a blinking cursor costs ~20 bytes instead of ~47): varints, the
screen size only on keyframes and when it changes, the seq only where it
does not follow the previous one, the capture time as a delta.  A v2 frame
therefore needs the frames before it, unless it is a keyframe, which
carries everything.  The viewer asks for v2 (the op's ``frames`` parameter);
a customer program that does not know it answers in v1, which every reader
still decodes.

A v1 frame (customer → engineer), all integers big endian::

    header  "ZS" | version u8 | flags u8 | seq u64 | width u16 | height u16
            | captured_at f64 (unix seconds) | tile count u16
    tiles   count × ( x u16 | y u16 | w u16 | h u16 | encoding u8 | length u32 )
    payload the tiles' payloads, concatenated in tile order

A v1 control (engineer → customer)::

    "ZC" | version u8 | kind u8 | value u64

v2 frames and controls start with the version byte 2 (v1's first byte is
``Z``); docs/screen.md lists their fields.

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
    "TIME_UNIT",
    "VERSION",
    "VERSIONS",
    "VERSION_COMPACT",
    "Control",
    "ControlKind",
    "Frame",
    "FrameReader",
    "FrameWriter",
    "Tile",
    "decode_control",
    "decode_frame",
    "encode_control",
    "encode_frame",
]

VERSION: Final = 1  # what a customer program sends unless the viewer asks for more
VERSION_COMPACT: Final = 2
VERSIONS: Final = (VERSION, VERSION_COMPACT)
TIME_UNIT: Final = 1e-4  # seconds per step of v2's capture time
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
MAX_CONTROL_BYTES: Final = _CONTROL.size  # a v2 control is at most 2 + 10 bytes
_MAX_U64: Final = 2**64 - 1
_MAX_TIME: Final = 2**62  # v2 time units: far beyond any clock, far within a varint
_V2_MARK: Final = bytes((VERSION_COMPACT,))  # v2's first byte (v1's is "Z")
_F2_SIZE: Final = 0x04  # v2: width and height follow
_F2_SEQ: Final = 0x08  # v2: the seq follows (else: the previous one + 1)
_F2_TIME: Final = 0x10  # v2: the absolute capture time follows (else: a signed delta)
_F2_ALL: Final = _F2_SIZE | _F2_SEQ | _F2_TIME
_F2_KNOWN: Final = FLAG_KEYFRAME | FLAG_SECURE_DESKTOP | _F2_ALL
_Last = tuple[int, int, int, int]  # seq, width, height, capture time in TIME_UNITs
_Entry = tuple[int, int, int, int, int, int]  # x, y, w, h, encoding, length


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
    """Serialise one frame as a v1 blob (stateless; ``FrameWriter`` for v2)."""
    _check_frame(frame)
    parts = [
        _HEADER.pack(
            _FRAME_MAGIC,
            VERSION,
            _flags(frame),
            frame.seq,
            frame.width,
            frame.height,
            frame.captured_at,
            len(frame.tiles),
        )
    ]
    parts.extend(_TILE.pack(t.x, t.y, t.w, t.h, t.encoding, len(t.payload)) for t in frame.tiles)
    return _joined(parts, frame)


def decode_frame(blob: bytes) -> Frame:
    """Parse one frame on its own: any v1 frame, or a v2 keyframe.

    Raises
    ------
    ProtocolError
        Wrong magic or version, truncated, oversized, a tile that does not
        lie on the screen, or a v2 frame that needs the frames before it.
    """
    return FrameReader().decode(blob)


class FrameWriter:
    """Encodes one stream's frames in one version, each v2 frame relative to the last.

    Every frame it encodes must reach the reader, in order (the SSH channel
    does that); a keyframe carries its whole header and needs nothing before.
    """

    def __init__(self, version: int = VERSION_COMPACT) -> None:
        if version not in VERSIONS:
            raise ValueError(f"screen frame version {version} is not one of {VERSIONS}")
        self.version = version
        self._last: _Last | None = None

    def encode(self, frame: Frame) -> bytes:
        if self.version == VERSION:
            return encode_frame(frame)
        _check_frame(frame)
        units = round(frame.captured_at / TIME_UNIT)
        if not (0 <= units <= _MAX_TIME and 0 <= frame.seq <= _MAX_U64):
            raise ValueError(
                f"screen frame seq {frame.seq} or time {frame.captured_at} is out of range"
            )
        out = bytearray((VERSION_COMPACT, 0))
        out[1] = _flags(frame) | self._put_header(out, frame, units)
        _put_varint(out, len(frame.tiles))
        for t in frame.tiles:
            for value in (t.x, t.y, t.w, t.h):
                _put_varint(out, value)
            out.append(t.encoding)
            _put_varint(out, len(t.payload))
        blob = _joined([bytes(out)], frame)
        self._last = (frame.seq, frame.width, frame.height, units)
        return blob

    def _put_header(self, out: bytearray, frame: Frame, units: int) -> int:
        """Append the fields the reader cannot infer; returns their flags."""
        last = self._last
        flags = _F2_ALL
        if last is not None and not frame.keyframe:
            flags = (_F2_SIZE if (frame.width, frame.height) != last[1:3] else 0) | (
                _F2_SEQ if frame.seq != last[0] + 1 else 0
            )
        if flags & _F2_SIZE:
            _put_varint(out, frame.width)
            _put_varint(out, frame.height)
        if flags & _F2_SEQ:
            _put_varint(out, frame.seq)
        if flags & _F2_TIME or last is None:
            _put_varint(out, units)
        else:
            delta = units - last[3]
            _put_varint(out, delta * 2 if delta >= 0 else -delta * 2 - 1)
        return flags


class FrameReader:
    """Decodes one stream's frames, v1 or v2, keeping what v2 frames leave out.

    ``version`` is the version of the last frame read (None before the
    first): controls back go in the same version.
    """

    def __init__(self) -> None:
        self.version: int | None = None
        self._last: _Last | None = None

    def decode(self, blob: bytes) -> Frame:
        """Parse the stream's next frame (see ``decode_frame`` for the errors)."""
        if len(blob) > MAX_FRAME_BYTES:
            raise ProtocolError(f"screen frame of {len(blob)} bytes exceeds {MAX_FRAME_BYTES}")
        if blob[:1] == _V2_MARK:
            frame, units = self._decode_v2(memoryview(blob))
            self.version = VERSION_COMPACT
        else:
            frame = _decode_v1(blob)
            units = min(max(round(frame.captured_at / TIME_UNIT), 0), _MAX_TIME)
            self.version = VERSION
        self._last = (frame.seq, frame.width, frame.height, units)
        return frame

    def _decode_v2(self, view: memoryview) -> tuple[Frame, int]:
        cur = _Cursor(view, 1)
        flags = cur.byte("flags")
        if flags & ~_F2_KNOWN:
            raise ProtocolError(f"unknown screen frame flags {flags:#04x}")
        keyframe = bool(flags & FLAG_KEYFRAME)
        last = self._last
        if (keyframe or last is None) and flags & _F2_ALL != _F2_ALL:
            raise ProtocolError(
                "a v2 screen frame without size, seq and time needs the frames before it"
            )
        seq, width, height, units = last or (0, 0, 0, 0)
        if flags & _F2_SIZE:
            width, height = cur.varint(MAX_SIDE, "width"), cur.varint(MAX_SIDE, "height")
        seq = cur.varint(_MAX_U64, "seq") if flags & _F2_SEQ else seq + 1
        if flags & _F2_TIME:
            units = cur.varint(_MAX_TIME, "time")
        else:
            zigzag = cur.varint(_MAX_U64, "time delta")
            units += zigzag >> 1 if not zigzag & 1 else -((zigzag + 1) >> 1)
        count = cur.varint(MAX_TILES, "tile count")
        if not (width and height and 0 <= units <= _MAX_TIME and seq <= _MAX_U64):
            raise ProtocolError(
                f"screen frame of {width}x{height}, seq {seq}, time {units} is out of bounds"
            )
        entries = [cur.tile() for _ in range(count)]
        tiles = _cut_payloads(view, cur.at, entries, width, height)
        return _frame(seq, width, height, units * TIME_UNIT, flags, tiles), units


class _Cursor:
    """Reads v2 fields from one message, every read bounded."""

    __slots__ = ("at", "view")

    def __init__(self, view: memoryview, at: int) -> None:
        self.view = view
        self.at = at

    def byte(self, what: str) -> int:
        if self.at >= len(self.view):
            raise ProtocolError(f"screen message ends inside its {what}")
        self.at += 1
        return int(self.view[self.at - 1])

    def varint(self, limit: int, what: str) -> int:
        """An unsigned LEB128 number of at most 10 bytes, at most ``limit``."""
        value = 0
        for shift in range(0, 70, 7):
            byte = self.byte(what)
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                if value > limit:
                    raise ProtocolError(f"screen message {what} {value} exceeds {limit}")
                return value
        raise ProtocolError(f"screen message {what} is longer than 10 bytes")

    def tile(self) -> _Entry:
        x, y, w, h = (self.varint(MAX_SIDE, "tile rectangle") for _ in range(4))
        return x, y, w, h, self.byte("tile encoding"), self.varint(MAX_FRAME_BYTES, "tile length")


def _put_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _flags(frame: Frame) -> int:
    return (FLAG_KEYFRAME if frame.keyframe else 0) | (
        FLAG_SECURE_DESKTOP if frame.secure_desktop else 0
    )


def _joined(parts: list[bytes], frame: Frame) -> bytes:
    parts.extend(t.payload for t in frame.tiles)
    blob = b"".join(parts)
    if len(blob) > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {len(blob)} bytes exceeds {MAX_FRAME_BYTES}")
    return blob


def _decode_v1(blob: bytes) -> Frame:
    if len(blob) < _HEADER.size:
        raise ProtocolError("truncated screen frame header")
    magic, version, flags, seq, width, height, captured_at, count = _HEADER.unpack_from(blob)
    if magic != _FRAME_MAGIC or version != VERSION:
        raise ProtocolError(f"not a v{VERSION} screen frame (magic {magic!r}, version {version})")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE) or count > MAX_TILES:
        raise ProtocolError(f"screen frame of {width}x{height} with {count} tiles is out of bounds")
    payload_at = _HEADER.size + count * _TILE.size
    if payload_at > len(blob):
        raise ProtocolError("truncated screen frame tile table")
    entries = [_TILE.unpack_from(blob, _HEADER.size + i * _TILE.size) for i in range(count)]
    tiles = _cut_payloads(memoryview(blob), payload_at, entries, width, height)
    return _frame(seq, width, height, captured_at, flags, tiles)


def _frame(
    seq: int, width: int, height: int, captured_at: float, flags: int, tiles: tuple[Tile, ...]
) -> Frame:
    secure = bool(flags & FLAG_SECURE_DESKTOP)
    if secure and tiles:
        raise ProtocolError("a secure-desktop notice carries no tiles")
    keyframe = bool(flags & FLAG_KEYFRAME)
    return Frame(seq, width, height, captured_at, keyframe, tiles, secure_desktop=secure)


def _cut_payloads(
    view: memoryview, payload_at: int, entries: list[_Entry], width: int, height: int
) -> tuple[Tile, ...]:
    """The tiles of a parsed tile table, each checked against the screen and the message."""
    tiles = []
    for x, y, w, h, raw_enc, length in entries:
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


def encode_control(control: Control, *, version: int = VERSION) -> bytes:
    """Serialise a control message (ack, pause, resume, refresh) in the stream's version."""
    if version == VERSION_COMPACT:
        out = bytearray((VERSION_COMPACT, control.kind))
        _put_varint(out, control.value)
        return bytes(out)
    return _CONTROL.pack(_CONTROL_MAGIC, VERSION, control.kind, control.value)


def decode_control(blob: bytes) -> Control:
    """Parse a control message; anything but exactly one v1 or v2 control is a ProtocolError."""
    if blob[:1] == _V2_MARK and len(blob) <= MAX_CONTROL_BYTES:
        cur = _Cursor(memoryview(blob), 1)
        raw_kind, value = cur.byte("control kind"), cur.varint(_MAX_U64, "control value")
        if cur.at != len(blob):
            raise ProtocolError("screen control message has trailing bytes")
    elif len(blob) != _CONTROL.size:
        raise ProtocolError(
            f"screen control message of {len(blob)} bytes, expected {_CONTROL.size}"
        )
    else:
        magic, version, raw_kind, value = _CONTROL.unpack(blob)
        if magic != _CONTROL_MAGIC or version != VERSION:
            raise ProtocolError(
                f"not a v{VERSION} screen control (magic {magic!r}, version {version})"
            )
    try:
        return Control(ControlKind(raw_kind), value)
    except ValueError as exc:
        raise ProtocolError(f"unknown screen control kind {raw_kind}") from exc
