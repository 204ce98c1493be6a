"""Relay handshake lines (text, at most ``MAX_LINE`` bytes each, newline-terminated).

customer → relay   ``ZVK1 OFFER`` or ``ZVK1 OFFER <id> <claim-token>``
relay → customer   ``ID <id> <claim-token>``
engineer → relay   ``ZVK1 CONNECT <id>``
either → relay     ``ZVK1 RESUME <id> <resume-token> engineer|customer`` (a dropped session)
relay → both       ``PAIRED``  (then raw bytes)   |   ``ERR <reason> [<seconds>]``  (then close)

Only parsing and formatting live here; the I/O layers read exactly one line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from zvkdiag._errors import ProtocolError

__all__ = [
    "ERR_BACKOFF",
    "ERR_BAD_REQUEST",
    "ERR_BUSY",
    "ERR_CLAIM",
    "ERR_DRAINING",
    "ERR_RATE_LIMITED",
    "ERR_TOO_MANY",
    "ERR_UNKNOWN_ID",
    "MAX_LINE",
    "Connect",
    "Offer",
    "Reply",
    "Resume",
    "format_connect",
    "format_err",
    "format_id_reply",
    "format_offer",
    "format_resume",
    "parse_reply",
    "parse_request",
]

MAX_LINE: Final = 256
PAIRED: Final = b"PAIRED\n"
ERR_UNKNOWN_ID: Final = "unknown-id"
ERR_BUSY: Final = "busy"
ERR_CLAIM: Final = "claim-rejected"
ERR_TOO_MANY: Final = "too-many-connections"
ERR_BAD_REQUEST: Final = "bad-request"
ERR_TIMEOUT: Final = "timeout"
ERR_BACKOFF: Final = "backoff"  # + seconds: failed tries for this ID from this address
ERR_RATE_LIMITED: Final = "rate-limited"  # + seconds: too many unknown IDs from this address
ERR_DRAINING: Final = "draining"  # the relay is shutting down: offer again (to its successor)

_ID = r"[1-9][0-9]{8}"
_TOKEN = r"[A-Za-z0-9_-]{16,64}"
_OFFER = re.compile(rf"ZVK1 OFFER(?: ({_ID}) ({_TOKEN}))?")
_CONNECT = re.compile(rf"ZVK1 CONNECT ({_ID})")
_RESUME = re.compile(rf"ZVK1 RESUME ({_ID}) ({_TOKEN}) (engineer|customer)")
_ID_REPLY = re.compile(rf"ID ({_ID}) ({_TOKEN})")
_ERR = re.compile(r"ERR ([a-z-]{1,40})(?: ([0-9]{1,6}(?:\.[0-9]{1,3})?))?")


@dataclass(frozen=True)
class Offer:
    """A customer offering itself; ``session_id``/``claim`` set when re-offering."""

    session_id: str | None = None
    claim: str | None = None


@dataclass(frozen=True)
class Connect:
    """An engineer asking to be paired with ``session_id``."""

    session_id: str


@dataclass(frozen=True)
class Resume:
    """One side of a dropped session coming back; the relay pairs it with the other role."""

    session_id: str
    token: str
    role: str


@dataclass(frozen=True)
class Reply:
    """What the relay answered: ``kind`` is ``id``, ``paired`` or ``err``.

    ``retry_after`` (seconds) comes with ``backoff`` and ``rate-limited``.
    """

    kind: str
    session_id: str | None = None
    claim: str | None = None
    reason: str | None = None
    retry_after: float | None = None


def _text(line: bytes) -> str:
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        raise ProtocolError("handshake line too long or not terminated")
    try:
        return line[:-1].decode("ascii")
    except UnicodeDecodeError as exc:
        raise ProtocolError("handshake line is not ASCII") from exc


def parse_request(line: bytes) -> Offer | Connect | Resume:
    """Parse a line a client sent to the relay."""
    text = _text(line)
    if m := _RESUME.fullmatch(text):
        return Resume(m.group(1), m.group(2), m.group(3))
    if m := _OFFER.fullmatch(text):
        return Offer(m.group(1), m.group(2))
    if m := _CONNECT.fullmatch(text):
        return Connect(m.group(1))
    raise ProtocolError("not a zvkdiag v1 handshake")


def parse_reply(line: bytes) -> Reply:
    """Parse a line the relay sent to a client."""
    text = _text(line)
    if text == "PAIRED":
        return Reply("paired")
    if m := _ID_REPLY.fullmatch(text):
        return Reply("id", session_id=m.group(1), claim=m.group(2))
    if m := _ERR.fullmatch(text):
        seconds = m.group(2)
        return Reply("err", reason=m.group(1), retry_after=float(seconds) if seconds else None)
    raise ProtocolError("the relay answered something that is not zvkdiag v1")


def format_offer(session_id: str | None = None, claim: str | None = None) -> bytes:
    if session_id is None or claim is None:
        return b"ZVK1 OFFER\n"
    return f"ZVK1 OFFER {session_id} {claim}\n".encode("ascii")


def format_connect(session_id: str) -> bytes:
    return f"ZVK1 CONNECT {session_id}\n".encode("ascii")


def format_resume(session_id: str, token: str, role: str) -> bytes:
    return f"ZVK1 RESUME {session_id} {token} {role}\n".encode("ascii")


def format_id_reply(session_id: str, claim: str) -> bytes:
    return f"ID {session_id} {claim}\n".encode("ascii")


def format_err(reason: str, retry_after: float | None = None) -> bytes:
    """``ERR <reason>``, or ``ERR <reason> <seconds>`` rounded up to milliseconds."""
    if retry_after is None:
        return f"ERR {reason}\n".encode("ascii")
    ms = min(999_999_999, max(1, math.ceil(retry_after * 1000)))
    seconds = f"{ms // 1000}.{ms % 1000:03d}".rstrip("0").rstrip(".")
    return f"ERR {reason} {seconds}\n".encode("ascii")
