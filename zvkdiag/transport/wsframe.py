"""WebSocket frames (RFC 6455, section 5) for the wss carrier's byte stream, without I/O.

The carrier sends each read of the stream as one binary message of up to a
few hundred KiB, so the cost per byte is what counts: a frame is built with
one copy, masked over 32-bit words with numpy (the client must mask every
byte with a fresh random key per frame), and a received frame's payload is
handed on in the pieces it arrives in, never gathered into a message first.
wsproto does the same work with per-frame Python objects and a masker that
walks four strided slices; it still does the HTTP upgrade on both sides.

Rules kept from the RFC: the decoder insists on the mask bit of its direction
(a server reads masked frames, a client unmasked ones), on minimal length
encodings, on no reserved bits (no extension is negotiated), on control frames
of at most 125 bytes that are never fragmented, and on continuation frames
only inside a fragmented message. Control frames may arrive between the
fragments of a message. Anything else is a ``FrameError`` carrying the close
code to answer with.
"""

from __future__ import annotations

import enum
import os
import struct
import sys
from dataclasses import dataclass
from typing import Final

import numpy as np

from zvkdiag._errors import ProtocolError

__all__ = [
    "CLOSE_NORMAL",
    "CLOSE_NO_CODE",
    "CLOSE_PROTOCOL",
    "MAX_CONTROL",
    "Close",
    "Control",
    "Data",
    "Decoder",
    "Event",
    "FrameError",
    "Opcode",
    "encode",
    "encode_close",
    "header",
    "mask",
    "parse_close",
]

MAX_CONTROL: Final = 125
CLOSE_NORMAL: Final = 1000
CLOSE_PROTOCOL: Final = 1002
CLOSE_NO_CODE: Final = 1005
_FIN, _RSV, _OPCODE = 0x80, 0x70, 0x0F
_MASKED, _LENGTH = 0x80, 0x7F
_LEN16, _LEN64 = 126, 127
_U16, _U64 = struct.Struct(">H"), struct.Struct(">Q")
_BYTEORDER: Final = sys.byteorder


class Opcode(enum.IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def control(self) -> bool:
        return self >= Opcode.CLOSE


class FrameError(ProtocolError):
    """The peer broke RFC 6455 framing; ``code`` is the close code to answer with."""

    def __init__(self, message: str, *, code: int = CLOSE_PROTOCOL) -> None:
        super().__init__(f"broken WebSocket frame: {message}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Data:
    """Payload bytes of a text or binary message, in arrival order; ``last`` ends the message."""

    payload: bytes | bytearray | memoryview
    text: bool
    last: bool


@dataclass(frozen=True, slots=True)
class Control:
    """A whole ping, pong or close frame."""

    opcode: Opcode
    payload: bytes


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


Event = Data | Control


def mask(data: bytes | bytearray | memoryview, key: bytes, offset: int = 0) -> bytearray:
    """``data`` XOR the 4-byte ``key``, starting ``offset`` bytes into the key's cycle.

    Masking is its own inverse; ``offset`` lets a payload that arrives in
    pieces be unmasked piece by piece.
    """
    out = bytearray(data)
    _mask_into(out, 0, _rotate(key, offset))
    return out


def header(opcode: Opcode, length: int, *, fin: bool = True, key: bytes | None = None) -> bytes:
    """The frame header for a payload of ``length`` bytes (masked when ``key`` is given)."""
    first = (_FIN if fin else 0) | opcode
    bit = _MASKED if key is not None else 0
    if length < _LEN16:
        head = bytes((first, bit | length))
    elif length <= 0xFFFF:
        head = bytes((first, bit | _LEN16)) + _U16.pack(length)
    else:
        head = bytes((first, bit | _LEN64)) + _U64.pack(length)
    return head + key if key is not None else head


def encode(
    opcode: Opcode,
    payload: bytes | bytearray | memoryview = b"",
    *,
    masked: bool,
    fin: bool = True,
    key: bytes | None = None,
) -> bytes | bytearray:
    """One frame; a masked one (client to server) gets ``key`` or a fresh random key."""
    if opcode.control and (len(payload) > MAX_CONTROL or not fin):
        raise ValueError("a control frame is whole and carries at most 125 bytes")
    if not masked:
        return header(opcode, len(payload), fin=fin) + payload
    key = key if key is not None else os.urandom(4)
    head = header(opcode, len(payload), fin=fin, key=key)
    frame = bytearray(head)
    frame += payload
    _mask_into(frame, len(head), key)
    return frame


def encode_close(code: int = CLOSE_NORMAL, reason: str = "", *, masked: bool) -> bytes | bytearray:
    body = b"" if code == CLOSE_NO_CODE else _U16.pack(code) + reason.encode()[:123]
    return encode(Opcode.CLOSE, body, masked=masked)


def parse_close(payload: bytes) -> Close:
    """A close frame's code and reason; an empty body means "no code" (1005)."""
    if not payload:
        return Close(CLOSE_NO_CODE, "")
    if len(payload) == 1:
        raise FrameError("a close frame with a one-byte body")
    (code,) = _U16.unpack_from(payload)
    if not (1000 <= code <= 4999) or code in (1004, 1005, 1006, 1015):
        raise FrameError(f"close code {code} may not be sent")
    try:
        return Close(code, payload[2:].decode())
    except UnicodeDecodeError as exc:
        raise FrameError("a close reason that is not UTF-8", code=1007) from exc


class Decoder:
    """Frames in, ``Data`` pieces and whole ``Control`` frames out, however the bytes are cut.

    ``masked`` says whether incoming frames must be masked (a server's
    decoder) or must not be (a client's).
    """

    def __init__(self, *, masked: bool) -> None:
        self.masked = masked
        self._head = bytearray()
        self._left = -1  # payload bytes still to come in this frame; -1 while reading a header
        self._opcode = Opcode.CONTINUATION
        self._fin = True
        self._key: bytes | None = None
        self._pos = 0  # payload bytes of this frame seen, for the key's cycle
        self._control = bytearray()
        self._message: Opcode | None = None  # TEXT or BINARY while a message is open

    @property
    def in_message(self) -> bool:
        return self._message is not None

    def feed(self, data: bytes | memoryview) -> list[Event]:
        """Events for ``data``; an unmasked payload may be a view into ``data`` (copy to keep)."""
        events: list[Event] = []
        i, n = 0, len(data)
        while True:
            if self._left < 0:
                i = self._read_header(data, i)
                if self._left < 0:
                    return events
            take = min(self._left, n - i)
            if take:
                self._left -= take
                self._payload(data[i : i + take], events)  # uncopied when it is all payload
                i += take
            if self._left == 0:
                self._end_frame(events)
            elif i >= n:
                return events

    # -- headers ------------------------------------------------------------------
    def _read_header(self, data: bytes | memoryview, i: int) -> int:
        """Gather header bytes; start the frame as soon as its header is whole."""
        while True:
            need = 2 if len(self._head) < 2 else _header_size(self._head)
            if len(self._head) >= need:
                self._start_frame(bytes(self._head))
                self._head.clear()
                return i
            if i >= len(data):
                return i
            take = min(need - len(self._head), len(data) - i)
            self._head += data[i : i + take]
            i += take

    def _start_frame(self, head: bytes) -> None:
        b0, b1 = head[0], head[1]
        if b0 & _RSV:
            raise FrameError("reserved bits set, but no extension was agreed")
        try:
            opcode = Opcode(b0 & _OPCODE)
        except ValueError:
            raise FrameError(f"unknown opcode {b0 & _OPCODE:#x}") from None
        if bool(b1 & _MASKED) != self.masked:
            raise FrameError("a masked frame to a client" if b1 & _MASKED else "an unmasked frame")
        self._fin, self._opcode = bool(b0 & _FIN), opcode
        self._left = _length(head, b1 & _LENGTH, opcode)
        self._key = head[-4:] if self.masked else None
        self._pos = 0
        self._check_sequence(opcode)

    def _check_sequence(self, opcode: Opcode) -> None:
        if opcode.control:
            if not self._fin:
                raise FrameError("a fragmented control frame")
        elif opcode is Opcode.CONTINUATION:
            if self._message is None:
                raise FrameError("a continuation frame outside a message")
        elif self._message is not None:
            raise FrameError("a new message before the last one ended")
        else:
            self._message = opcode

    # -- payloads -----------------------------------------------------------------
    def _payload(self, piece: bytes | bytearray | memoryview, events: list[Event]) -> None:
        if self._key is not None:
            piece = mask(piece, self._key, self._pos)
        self._pos += len(piece)
        if self._opcode.control:
            self._control += piece
        elif piece:
            assert self._message is not None
            last = self._fin and self._left == 0
            events.append(Data(piece, self._message is Opcode.TEXT, last))

    def _end_frame(self, events: list[Event]) -> None:
        self._left = -1
        if self._opcode.control:
            payload = bytes(self._control)
            self._control.clear()
            if self._opcode is Opcode.CLOSE:
                parse_close(payload)
            events.append(Control(self._opcode, payload))
            return
        if self._fin:
            assert self._message is not None
            if self._pos == 0:  # an empty last frame still ends the message
                events.append(Data(b"", self._message is Opcode.TEXT, True))
            self._message = None


def _header_size(head: bytearray) -> int:
    short = head[1] & _LENGTH
    extra = 2 if short == _LEN16 else 8 if short == _LEN64 else 0
    return 2 + extra + (4 if head[1] & _MASKED else 0)


def _length(head: bytes, short: int, opcode: Opcode) -> int:
    if short < _LEN16:
        return short
    if opcode.control:
        raise FrameError("a control frame longer than 125 bytes")
    if short == _LEN16:
        (length,) = _U16.unpack_from(head, 2)
        if length < _LEN16:
            raise FrameError("a 16-bit length where 7 bits would do")
        return int(length)
    (length,) = _U64.unpack_from(head, 2)
    if length <= 0xFFFF or length >> 63:
        raise FrameError("a 64-bit length that is too small or has its top bit set")
    return int(length)


def _rotate(key: bytes, offset: int) -> bytes:
    r = offset % 4
    return key[r:] + key[:r]


def _mask_into(buf: bytearray, start: int, key: bytes) -> None:
    """XOR ``buf[start:]`` with ``key`` in place: 4-byte words through numpy, then the tail."""
    words = (len(buf) - start) // 4
    if words:
        view = np.frombuffer(buf, dtype=np.uint32, count=words, offset=start)
        view ^= np.uint32(int.from_bytes(key, _BYTEORDER))
    for j in range(start + 4 * words, len(buf)):
        buf[j] ^= key[(j - start) % 4]
