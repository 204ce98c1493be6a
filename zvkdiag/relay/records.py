"""What the relay tells about each finished pairing: a value, its JSON line, and privacy.

One ``PairingRecord`` per pair, lonely offer or rejected connection feeds both
the metrics and the log.  The log line never carries a password (the relay
never sees one) nor a full ID: IDs are replaced by a keyed hash whose key
changes every day (UTC), so one day's lines can be matched up with each other
but not with another day's; addresses can be blurred to their network
(/24 for IPv4, /48 for IPv6), as magic-wormhole's transit relay does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "OUTCOMES",
    "IdHasher",
    "PairingRecord",
    "blur_address",
    "rejection_label",
    "to_json",
]

Outcome = Literal["paired", "failed-try", "lonely", "rejected", "resumed"]
OUTCOMES: Final = ("paired", "failed-try", "lonely", "rejected", "resumed")
_HANDSHAKE_FAULTS: Final = frozenset({"bad-request", "timeout", "closed"})


@dataclass(frozen=True)
class PairingRecord:
    """One finished pairing, lonely offer, or rejected connection.

    ``reason`` is the ``ERR`` reason sent (or ``closed``: the client left
    before a full handshake line) for ``rejected``; ``wait`` is offer to
    pairing, ``duration`` pairing to end (seconds, monotonic).
    """

    outcome: Outcome
    transport: str
    started: float  # wall clock (seconds since the epoch)
    ended: float
    reason: str | None = None
    session_id: str | None = None
    customer: str | None = None
    engineer: str | None = None
    client: str | None = None  # the address when the role never became known
    wait: float | None = None
    duration: float | None = None
    bytes_to_engineer: int = 0
    bytes_to_customer: int = 0

    @property
    def connections(self) -> int:
        return 2 if self.outcome in ("paired", "failed-try", "resumed") else 1


def rejection_label(reason: str) -> str:
    """The metrics label of an ``ERR`` reason: handshake faults are one ``bad_handshake``."""
    if reason in _HANDSHAKE_FAULTS:
        return "bad_handshake"
    if reason == "rate-limited":
        return "rate_limit"
    return reason.replace("-", "_")


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass
class IdHasher:
    """HMAC-SHA256 of an ID under a key derived from a process secret and the UTC date."""

    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    today: Callable[[], dt.date] = _today
    _day: dt.date | None = None
    _key: bytes = b""

    def __call__(self, session_id: str) -> str:
        day = self.today()
        if day != self._day:
            self._day = day
            self._key = hmac.digest(self.secret, day.isoformat().encode(), hashlib.sha256)
        return hmac.new(self._key, session_id.encode(), hashlib.sha256).hexdigest()[:16]


def blur_address(address: str) -> str:
    """The network an address is in: /24 for IPv4, /48 for IPv6; other text unchanged."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")


def to_json(record: PairingRecord, hasher: IdHasher, *, blur: bool = False) -> str:
    """One line of JSON for ``record``: no password, no full ID, addresses blurred on request."""

    def address(a: str | None) -> str | None:
        return blur_address(a) if a and blur else a

    line: dict[str, object] = {
        "event": "pairing",
        "outcome": record.outcome,
        "reason": record.reason,
        "transport": record.transport,
        "start": _iso(record.started),
        "end": _iso(record.ended),
        "duration_s": round(record.ended - record.started, 3),
        "wait_s": None if record.wait is None else round(record.wait, 3),
        "session_s": None if record.duration is None else round(record.duration, 3),
        "bytes_to_engineer": record.bytes_to_engineer,
        "bytes_to_customer": record.bytes_to_customer,
        "id_hash": hasher(record.session_id) if record.session_id else None,
        "customer": address(record.customer),
        "engineer": address(record.engineer),
    }
    if record.client:
        line["client"] = address(record.client)
    return json.dumps(line, separators=(",", ":"))
