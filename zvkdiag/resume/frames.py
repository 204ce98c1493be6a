"""Frames of the resumable stream (docs/protocol.md, "Resumable stream").

A frame is ``type (1 byte) | length (4 bytes, big endian) | payload``.

``DATA``    offset (8 bytes) | stream bytes (at most ``MAX_DATA``)
``ACK``     offset (8 bytes): every byte before it has arrived
``HELLO``   nonce (32 bytes) | offset (8 bytes) the sender has received up to
``PROOF``   HMAC-SHA256 (32 bytes) over both HELLOs under the resumption key
``CLOSE``   empty: the sender ended the stream on purpose
``REFUSED`` empty: the peer's PROOF was wrong; the carrier closes

Nothing here does I/O; anything malformed is a ``ProtocolError``.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Final

from zvkdiag._errors import ProtocolError

__all__ = [
    "HEADER",
    "MAX_DATA",
    "NONCE",
    "Decoder",
    "Frame",
    "Hello",
    "Kind",
    "encode",
    "encode_ack",
    "encode_data",
    "encode_hello",
    "parse_ack",
    "parse_data",
    "parse_hello",
]

HEADER: Final = 5
MAX_DATA: Final = 256 * 1024
NONCE: Final = 32
MAC: Final = 32
_HEADER = struct.Struct(">BI")
_OFFSET = struct.Struct(">Q")


class Kind(enum.IntEnum):
    DATA = 1
    ACK = 2
    HELLO = 3
    PROOF = 4
    CLOSE = 5
    REFUSED = 6


_MAX_PAYLOAD: Final = {
    Kind.DATA: _OFFSET.size + MAX_DATA,
    Kind.ACK: _OFFSET.size,
    Kind.HELLO: NONCE + _OFFSET.size,
    Kind.PROOF: MAC,
    Kind.CLOSE: 0,
    Kind.REFUSED: 0,
}


@dataclass(frozen=True)
class Frame:
    kind: Kind
    payload: bytes | memoryview


@dataclass(frozen=True)
class Hello:
    nonce: bytes
    received: int


def _allowed(kind: Kind, length: int) -> bool:
    if kind is Kind.DATA:
        return _OFFSET.size < length <= _MAX_PAYLOAD[kind]
    return length == _MAX_PAYLOAD[kind]


def encode(kind: Kind, payload: bytes = b"") -> bytes:
    if not _allowed(kind, len(payload)):
        raise ValueError(f"a {kind.name} payload of {len(payload)} bytes is not allowed")
    return _HEADER.pack(kind, len(payload)) + payload


def encode_data(offset: int, data: bytes | memoryview) -> bytes:
    if len(data) > MAX_DATA:
        raise ValueError(f"DATA of {len(data)} bytes exceeds {MAX_DATA}")
    return _HEADER.pack(Kind.DATA, _OFFSET.size + len(data)) + _OFFSET.pack(offset) + data


def encode_ack(offset: int) -> bytes:
    return encode(Kind.ACK, _OFFSET.pack(offset))


def encode_hello(hello: Hello) -> bytes:
    if len(hello.nonce) != NONCE:
        raise ValueError("a HELLO nonce is 32 bytes")
    return encode(Kind.HELLO, hello.nonce + _OFFSET.pack(hello.received))


def parse_data(payload: bytes | memoryview) -> tuple[int, bytes | memoryview]:
    return _OFFSET.unpack_from(payload)[0], payload[_OFFSET.size :]


def parse_ack(payload: bytes | memoryview) -> int:
    return int(_OFFSET.unpack(payload)[0])


def parse_hello(payload: bytes) -> Hello:
    if len(payload) != NONCE + _OFFSET.size:
        raise ProtocolError("a resumption HELLO has the wrong length")
    return Hello(payload[:NONCE], _OFFSET.unpack_from(payload, NONCE)[0])


def decode_header(header: bytes) -> tuple[Kind, int]:
    """Check one header: a known kind and a length within that kind's bound."""
    code, length = _HEADER.unpack(header)
    try:
        kind = Kind(code)
    except ValueError as exc:
        raise ProtocolError(f"unknown resumable-stream frame type {code}") from exc
    if not _allowed(kind, length):
        raise ProtocolError(f"a {kind.name} frame of {length} bytes is not allowed")
    return kind, length


class Decoder:
    """Cuts a byte stream into frames; keeps at most one partial frame.

    Payloads are views into the bytes received (no copy); a frame that spans
    reads is joined once, when its last byte arrives.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._need = 0

    def feed(self, data: bytes) -> list[Frame]:
        if self._buf:
            self._buf += data
            if len(self._buf) < self._need:
                return []
            view = memoryview(bytes(self._buf))
            self._buf = bytearray()
        else:
            view = memoryview(data)
        out: list[Frame] = []
        pos, size = 0, len(view)
        self._need = HEADER
        while size - pos >= HEADER:
            kind, length = decode_header(bytes(view[pos : pos + HEADER]))
            end = pos + HEADER + length
            if size < end:
                self._need = end - pos
                break
            out.append(Frame(kind, view[pos + HEADER : end]))
            pos = end
        if pos < size:
            self._buf = bytearray(view[pos:])
        return out

    @property
    def pending(self) -> int:
        return len(self._buf)
