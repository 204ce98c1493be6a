"""Length-prefixed frames used between PAIRED and the start of SSH.

A frame is ``type (1 byte) | length (2 bytes, big endian) | payload``; the
payload is at most ``MAX_PAYLOAD`` bytes.  Anything else is a ProtocolError.
"""

from __future__ import annotations

import enum
import json
import struct
from typing import Final

from zvkdiag._errors import ProtocolError

__all__ = [
    "HEADER",
    "MAX_PAYLOAD",
    "FrameType",
    "decode_header",
    "encode",
    "fail_payload",
    "parse_fail",
]

HEADER: Final = 3
MAX_PAYLOAD: Final = 4096
_HEADER = struct.Struct(">BH")


class FrameType(enum.IntEnum):
    PAKE = 1
    CONFIRM = 2
    SEALED = 3
    FAIL = 0x7F


def encode(kind: FrameType, payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"frame payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return _HEADER.pack(kind, len(payload)) + payload


def decode_header(header: bytes) -> tuple[FrameType, int]:
    """Return (type, payload length) or raise ProtocolError."""
    if len(header) != HEADER:
        raise ProtocolError("truncated frame header")
    raw_kind, length = _HEADER.unpack(header)
    try:
        kind = FrameType(raw_kind)
    except ValueError as exc:
        raise ProtocolError(f"unknown frame type {raw_kind}") from exc
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"frame of {length} bytes exceeds {MAX_PAYLOAD}")
    return kind, length


def fail_payload(reason: str, tries_left: int | None) -> bytes:
    return json.dumps({"reason": reason, "tries_left": tries_left}).encode()


def parse_fail(payload: bytes) -> tuple[str, int | None]:
    """Parse a FAIL frame; tolerate nothing but the two known fields."""
    try:
        obj = json.loads(payload)
        reason = obj["reason"]
        tries = obj["tries_left"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ProtocolError("malformed failure notice") from exc
    if not isinstance(reason, str) or not (tries is None or isinstance(tries, int)):
        raise ProtocolError("malformed failure notice")
    return reason[:64], tries
