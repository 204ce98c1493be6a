"""The relay's pairing state, without sockets (magic-wormhole's server_state idea).

An ID is *reserved* for the customer who got it, proven by a claim token, for
as long as that customer keeps offering or is in a session, and for
``RESERVATION_TTL`` after; then it is *released* into a quarantine of
``QUARANTINE`` seconds during which no new customer gets it.  A *live offer*
is one customer connection waiting for an engineer.  A re-offer of an ID this
relay does not know (it was restarted, or took over from a draining one) is
taken back under the claim it brings: relays share no state.  Whoever guesses
an unreserved ID first only gets an ID nobody can authenticate to (the PAKE
needs the password).  While *draining* every request is refused.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Final

from zvkdiag.wire import codes, handshake
from zvkdiag.wire.handshake import Connect, Offer

__all__ = [
    "QUARANTINE",
    "RESERVATION_TTL",
    "Decision",
    "PairingState",
]

RESERVATION_TTL: Final = 30 * 60.0
QUARANTINE: Final = 24 * 3600.0
MAX_OFFERS: Final = 20_000


@dataclass
class _Reservation:
    claim: str
    expires: float
    in_session: bool = False


@dataclass(frozen=True)
class Decision:
    """What the I/O layer should do with a handshake: ``kind`` is one of
    ``offered`` (send ID line), ``paired`` (with ``peer``), ``wait`` (engineer waits
    for the reserved ID's next offer) or ``err`` (send ERR ``reason`` and close)."""

    kind: str
    session_id: str | None = None
    claim: str | None = None
    peer: Hashable | None = None
    reason: str | None = None


@dataclass
class PairingState:
    clock: Callable[[], float] = time.monotonic
    max_offers: int = MAX_OFFERS
    new_id: Callable[[], str] = codes.new_id
    shard: int | None = None  # IDs of other shards are never handed out nor taken back
    _offers: dict[str, Hashable] = field(default_factory=dict)
    _offer_ids: dict[Hashable, str] = field(default_factory=dict)
    _reserved: dict[str, _Reservation] = field(default_factory=dict)
    _released: dict[str, float] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    draining: bool = False
    _next_sweep: float = 0.0

    @property
    def live_offers(self) -> int:
        return len(self._offers)

    def handle(self, conn: Hashable, request: Offer | Connect) -> Decision:
        self._expire()
        if self.draining:  # the successor on the same port takes offers and engineers
            return Decision("err", reason=handshake.ERR_DRAINING)
        if isinstance(request, Connect):
            return self._connect(request.session_id)
        return self._offer(conn, request)

    def _offer(self, conn: Hashable, req: Offer) -> Decision:
        if len(self._offers) >= self.max_offers:
            return Decision("err", reason=handshake.ERR_BUSY)
        if req.session_id is None:
            sid, claim = self._fresh_id(), secrets.token_urlsafe(24)
            self._reserved[sid] = _Reservation(claim, 0.0)
        else:
            sid, claim = req.session_id, req.claim or ""
            res = self._reserved.get(sid)
            if res is None and sid not in self._released and self._ours(sid):
                # a customer of a restarted relay (or of this relay's predecessor on the
                # same port) re-offers: take it back under its ID and claim
                res = self._reserved[sid] = _Reservation(claim, 0.0)
            if res is None or not hmac.compare_digest(res.claim, claim):
                return Decision("err", reason=handshake.ERR_CLAIM)
            if sid in self._offers:
                return Decision("err", reason=handshake.ERR_BUSY)
        self._reserved[sid].expires = self.clock() + RESERVATION_TTL
        self._offers[sid] = conn
        self._offer_ids[conn] = sid
        return Decision("offered", session_id=sid, claim=claim)

    def _connect(self, sid: str) -> Decision:
        conn = self._offers.pop(sid, None)
        if conn is not None:
            del self._offer_ids[conn]
            self._reserved[sid].in_session = True
            self.outcomes["paired"] += 1
            return Decision("paired", session_id=sid, peer=conn)
        if sid in self._reserved:
            return Decision("wait", session_id=sid)
        self.outcomes["unknown-id"] += 1
        return Decision("err", reason=handshake.ERR_UNKNOWN_ID)

    def withdraw(self, conn: Hashable) -> None:
        """A waiting customer connection went away before it was paired."""
        sid = self._offer_ids.pop(conn, None)
        if sid is not None:
            del self._offers[sid]
            self.outcomes["lonely"] += 1

    def session_ended(self, sid: str) -> None:
        res = self._reserved.get(sid)
        if res is not None:
            res.in_session = False
            res.expires = self.clock() + RESERVATION_TTL

    def _ours(self, sid: str) -> bool:
        return self.shard is None or sid[0] == str(self.shard)

    def is_reserved(self, sid: str) -> bool:
        return sid in self._reserved

    def _fresh_id(self) -> str:
        while True:
            sid = self.new_id()
            if sid not in self._reserved and sid not in self._released:
                return sid

    def _expire(self) -> None:
        now = self.clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + 1.0
        gone = [
            sid
            for sid, r in self._reserved.items()
            if not r.in_session and sid not in self._offers and r.expires <= now
        ]
        for sid in gone:
            del self._reserved[sid]
            self._released[sid] = now + QUARANTINE
        self._released = {s: t for s, t in self._released.items() if t > now}
