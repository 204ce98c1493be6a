"""The relay's I/O: asyncio Protocols that read one handshake line, then pipe bytes.

The pipe uses pause/resume reading driven by the peer's write buffer (about
1.5x the throughput of a read/write/drain loop here); the relay never parses
anything after ``PAIRED``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from typing import Final

from zvkdiag._errors import ProtocolError
from zvkdiag.relay.limits import (
    ADDRESS_ALLOWANCE,
    BACKOFF_BASE,
    LOOKUP_BURST,
    LOOKUP_RATE,
    AddressLimiter,
    FailureBackoff,
    LookupLimiter,
)
from zvkdiag.relay.state import MAX_OFFERS, PairingState
from zvkdiag.wire import handshake

__all__ = ["HANDSHAKE_TIMEOUT", "Relay", "RelayConfig", "start_relay"]

log = logging.getLogger("zvkdiag.relay")
HANDSHAKE_TIMEOUT: Final = 10.0
CONNECT_WAIT: Final = 5.0
OFFER_TTL: Final = 15 * 60.0
MAX_PER_ADDRESS: Final = 100
_WRITE_HIGH: Final = 1 << 20
FAILED_PAIR_BYTES: Final = 2048  # SSH's own key exchange alone is larger than this
_ids = itertools.count(1)


@dataclass(frozen=True)
class RelayConfig:
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    connect_wait: float = CONNECT_WAIT
    offer_ttl: float = OFFER_TTL
    max_offers: int = MAX_OFFERS
    max_per_address: int = MAX_PER_ADDRESS
    backoff_base: float = BACKOFF_BASE
    address_allowance: int = ADDRESS_ALLOWANCE
    lookup_rate: float = LOOKUP_RATE
    lookup_burst: float = LOOKUP_BURST


class Relay:
    """Shared state of one relay process: pairing, limits, waiting engineers."""

    def __init__(self, config: RelayConfig | None = None) -> None:
        self.config = config or RelayConfig()
        self.state = PairingState(max_offers=self.config.max_offers)
        self.limiter = AddressLimiter(self.config.max_per_address)
        self.backoff = FailureBackoff(
            base=self.config.backoff_base, address_allowance=self.config.address_allowance
        )
        self.lookups = LookupLimiter(rate=self.config.lookup_rate, burst=self.config.lookup_burst)
        self.waiting: dict[str, list[_Conn]] = {}

    def protocol(self) -> _Conn:
        return _Conn(self)


class _Conn(asyncio.Protocol):
    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.cid = next(_ids)
        self.transport: asyncio.Transport | None = None
        self.phase = "handshake"
        self.buffer = bytearray()
        self.peer: _Conn | None = None
        self.session_id: str | None = None
        self.address = "?"
        self.timer: asyncio.TimerHandle | None = None
        self.counted = False
        self.moved = 0
        self.is_engineer = False

    # -- lifecycle --------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=_WRITE_HIGH)
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else "?"
        if not self.relay.limiter.acquire(self.address):
            transport.write(handshake.format_err(handshake.ERR_TOO_MANY))
            transport.close()
            return
        self.counted = True
        self._arm(self.relay.config.handshake_timeout)

    def _arm(self, seconds: float) -> None:
        if self.timer:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self._timeout)

    def _timeout(self) -> None:
        if self.phase in ("handshake", "waiting"):
            self._fail(
                handshake.ERR_UNKNOWN_ID if self.phase == "waiting" else handshake.ERR_TIMEOUT
            )
        elif self.phase == "offered":
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer:
            self.timer.cancel()
        if self.counted:
            self.relay.limiter.release(self.address)
            self.counted = False
        if self.phase == "offered":
            self.relay.state.withdraw(self)
        elif self.phase == "waiting" and self.session_id:
            waiters = self.relay.waiting.get(self.session_id, [])
            if self in waiters:
                waiters.remove(self)
        elif self.phase == "relaying" and self.peer is not None:
            # the first side of a pair to go accounts for the pair, once
            if self.session_id:
                self.relay.state.session_ended(self.session_id)
            engineer = self if self.is_engineer else self.peer
            sid = self.session_id or ""
            if self.moved + self.peer.moved < FAILED_PAIR_BYTES:
                self.relay.backoff.failed(engineer.address, sid)
            else:
                self.relay.backoff.succeeded(engineer.address, sid)
            self.peer.phase = "ending"
            self.peer.close()
        self.phase = "closed"

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _fail(self, reason: str, retry_after: float | None = None) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(handshake.format_err(reason, retry_after))
        self.close()

    # -- data -------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.phase == "relaying":
            assert self.peer is not None and self.peer.transport is not None
            self.moved += len(data)
            self.peer.transport.write(data)
            return
        self.buffer += data
        if self.phase != "handshake":
            if len(self.buffer) > handshake.MAX_LINE:  # clients must wait for PAIRED
                self._fail(handshake.ERR_BAD_REQUEST)
            return
        end = self.buffer.find(b"\n")
        if end < 0:
            if len(self.buffer) >= handshake.MAX_LINE:
                self._fail(handshake.ERR_BAD_REQUEST)
            return
        line, rest = bytes(self.buffer[: end + 1]), self.buffer[end + 1 :]
        self.buffer = bytearray(rest)
        try:
            request = handshake.parse_request(line)
        except ProtocolError:
            self._fail(handshake.ERR_BAD_REQUEST)
            return
        if isinstance(request, handshake.Connect) and self._held_back(request.session_id):
            return
        self._decide(request)

    def _held_back(self, sid: str) -> bool:
        """Refuse at once, with the seconds to wait, a try this address may not make yet.

        Answering at once (instead of stalling the connection) lets the engineer's
        side say how long to wait, and never runs into its connect timeout.
        """
        wait = self.relay.backoff.wait(self.address, sid)
        if wait > 0:
            self._fail(handshake.ERR_BACKOFF, wait)
            return True
        wait = self.relay.lookups.wait(self.address)
        if wait > 0:
            self._fail(handshake.ERR_RATE_LIMITED, wait)
            return True
        return False

    def _decide(self, request: handshake.Offer | handshake.Connect) -> None:
        d = self.relay.state.handle(self, request)
        assert self.transport is not None
        if d.kind == "err":
            if d.reason == handshake.ERR_UNKNOWN_ID:
                self.relay.lookups.wrong(self.address)
            self._fail(d.reason or handshake.ERR_BAD_REQUEST)
        elif d.kind == "offered":
            assert d.session_id and d.claim
            self.phase, self.session_id = "offered", d.session_id
            self.transport.write(handshake.format_id_reply(d.session_id, d.claim))
            self._arm(self.relay.config.offer_ttl)
            self._serve_waiter(d.session_id)
        elif d.kind == "wait":
            assert d.session_id
            self.phase, self.session_id = "waiting", d.session_id
            self.relay.waiting.setdefault(d.session_id, []).append(self)
            self._arm(self.relay.config.connect_wait)
        else:
            assert isinstance(d.peer, _Conn) and d.session_id
            self._pair(d.peer, d.session_id)

    def _serve_waiter(self, sid: str) -> None:
        waiters = self.relay.waiting.get(sid)
        if not waiters:
            return
        engineer = waiters.pop(0)
        if not waiters:
            del self.relay.waiting[sid]
        d = self.relay.state.handle(engineer, handshake.Connect(sid))
        if d.kind == "paired" and d.peer is self:
            engineer._pair(self, sid)

    def _pair(self, customer: _Conn, sid: str) -> None:
        self.session_id = sid
        self.is_engineer = True
        for conn, other in ((self, customer), (customer, self)):
            conn.phase, conn.peer = "relaying", other
            if conn.timer:
                conn.timer.cancel()
            assert conn.transport is not None
            conn.transport.write(handshake.PAIRED)
        log.info("paired id=%s engineer=%d customer=%d", sid, self.cid, customer.cid)
        for conn in (self, customer):
            if conn.buffer and conn.peer and conn.peer.transport:
                conn.peer.transport.write(bytes(conn.buffer))
            conn.buffer = bytearray()

    # -- backpressure: our write buffer is full -> stop reading from the peer
    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


async def start_relay(
    host: str = "127.0.0.1", port: int = 8340, *, config: RelayConfig | None = None
) -> tuple[Relay, asyncio.Server]:
    """Start listening; the caller owns the returned server (``async with server``)."""
    relay = Relay(config)
    server = await asyncio.get_running_loop().create_server(
        relay.protocol, host, port, backlog=1024
    )
    return relay, server
