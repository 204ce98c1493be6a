"""The relay's I/O: asyncio Protocols that read one handshake line, then pipe bytes.

The pipe uses pause/resume reading driven by the peer's write buffer (about
1.5x the throughput of a read/write/drain loop here); the relay never parses
anything after ``PAIRED``.  Decisions live in the pure modules (``state``,
``limits``, ``records``); this module only applies them to sockets.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from collections.abc import Callable
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
    TokenBucket,
)
from zvkdiag.relay.records import Outcome, PairingRecord
from zvkdiag.relay.state import MAX_OFFERS, PairingState
from zvkdiag.wire import codes, handshake

__all__ = ["HANDSHAKE_TIMEOUT", "Relay", "RelayConfig", "start_relay"]

log = logging.getLogger("zvkdiag.relay")
HANDSHAKE_TIMEOUT: Final = 10.0
CONNECT_WAIT: Final = 5.0
RESUME_WAIT: Final = 90.0  # longer than both sides keep trying (resume.transport.GRACE)
OFFER_TTL: Final = 15 * 60.0
MAX_PER_ADDRESS: Final = 100
DRAIN_TIMEOUT: Final = 8 * 3600.0  # longer than the agent's longest session by default
_WRITE_HIGH: Final = 1 << 20
FAILED_PAIR_BYTES: Final = 2048  # SSH's own key exchange alone is larger than this
MIN_BURST: Final = 64 * 1024  # a bandwidth cap still lets one read of this size through
_ids = itertools.count(1)

Sink = Callable[[PairingRecord], None]


@dataclass(frozen=True)
class RelayConfig:
    """The relay's limits; ``pair_rate`` and ``total_rate`` (bytes/s) are off at 0.

    ``shard`` (1-9) is the first digit of every ID this relay hands out.
    """

    handshake_timeout: float = HANDSHAKE_TIMEOUT
    connect_wait: float = CONNECT_WAIT
    resume_wait: float = RESUME_WAIT
    offer_ttl: float = OFFER_TTL
    max_offers: int = MAX_OFFERS
    max_per_address: int = MAX_PER_ADDRESS
    backoff_base: float = BACKOFF_BASE
    address_allowance: int = ADDRESS_ALLOWANCE
    lookup_rate: float = LOOKUP_RATE
    lookup_burst: float = LOOKUP_BURST
    pair_rate: float = 0.0
    total_rate: float = 0.0
    drain_timeout: float = DRAIN_TIMEOUT
    shard: int | None = None


def _bucket(rate: float) -> TokenBucket | None:
    return TokenBucket(rate, max(rate / 4, MIN_BURST)) if rate > 0 else None


class Relay:
    """Shared state of one relay process: pairing, limits, waiting engineers, counters."""

    def __init__(self, config: RelayConfig | None = None) -> None:
        self.config = config or RelayConfig()
        shard = self.config.shard
        self.state = PairingState(
            max_offers=self.config.max_offers, shard=shard, new_id=lambda: codes.new_id(shard)
        )
        self.limiter = AddressLimiter(self.config.max_per_address)
        self.backoff = FailureBackoff(
            base=self.config.backoff_base, address_allowance=self.config.address_allowance
        )
        self.lookups = LookupLimiter(rate=self.config.lookup_rate, burst=self.config.lookup_burst)
        self.total_bucket = _bucket(self.config.total_rate)
        self.waiting: dict[str, list[_Conn]] = {}
        self.resumes: dict[tuple[str, str, str], _Conn] = {}  # (id, token, role) -> waiting side
        self.conns: set[_Conn] = set()
        self.sinks: list[Sink] = []
        self.servers: list[asyncio.Server] = []
        self.bytes_to_engineer = 0
        self.bytes_to_customer = 0
        self.pairs_active = 0
        self.throttled = 0  # times a bandwidth cap paused reading
        self._idle = asyncio.Event()

    @property
    def draining(self) -> bool:
        return self.state.draining

    def protocol(self, transport: str = "tcp") -> Callable[[], _Conn]:
        return lambda: _Conn(self, transport)

    def emit(self, record: PairingRecord) -> None:
        for sink in self.sinks:
            try:
                sink(record)
            except Exception:  # a broken sink must not break the pipe
                log.exception("pairing record sink failed")

    def drain(self) -> None:
        """Stop taking offers: close the listeners, send the waiting ones to the successor."""
        if self.state.draining:
            return
        self.state.draining = True
        for server in self.servers:
            server.close()
        for conn in list(self.conns):
            if conn.phase in ("handshake", "offered", "waiting", "resuming"):
                conn.fail(handshake.ERR_DRAINING)
        self.check_idle()

    async def drained(self) -> bool:
        """Wait until the last pair ended or ``drain_timeout`` passed; True if none was cut."""
        try:
            async with asyncio.timeout(self.config.drain_timeout):
                await self._idle.wait()
            return True
        except TimeoutError:
            for conn in list(self.conns):
                conn.close()
            return False

    def check_idle(self) -> None:
        if self.state.draining and not self.conns:
            self._idle.set()


class _Conn(asyncio.Protocol):
    def __init__(self, relay: Relay, transport_name: str) -> None:
        self.relay = relay
        self.transport_name = transport_name
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
        self.role: str | None = None
        self.started = time.time()
        self.t0 = time.monotonic()
        self.paired_at = 0.0
        self.recorded = False
        self.backpressured = False
        self.throttle: asyncio.TimerHandle | None = None
        self.bucket: TokenBucket | None = None
        self.resume_key: tuple[str, str, str] | None = None
        self.resumed = False

    # -- lifecycle --------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.relay.conns.add(self)
        transport.set_write_buffer_limits(high=_WRITE_HIGH)
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else "?"
        if not self.relay.limiter.acquire(self.address):
            self.fail(handshake.ERR_TOO_MANY)
            return
        self.counted = True
        self._arm(self.relay.config.handshake_timeout)

    def _arm(self, seconds: float) -> None:
        if self.timer:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self._timeout)

    def _timeout(self) -> None:
        if self.phase == "resuming":
            self.fail(handshake.ERR_TIMEOUT)
        elif self.phase in ("handshake", "waiting"):
            self.fail(
                handshake.ERR_UNKNOWN_ID if self.phase == "waiting" else handshake.ERR_TIMEOUT
            )
        elif self.phase == "offered":
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        for handle in (self.timer, self.throttle):
            if handle:
                handle.cancel()
        if self.counted:
            self.relay.limiter.release(self.address)
            self.counted = False
        self._forget_resume()
        if self.phase == "offered":
            self.relay.state.withdraw(self)
            self._record("lonely")
        elif self.phase == "waiting" and self.session_id:
            waiters = self.relay.waiting.get(self.session_id, [])
            if self in waiters:
                waiters.remove(self)
            self._record("rejected", "closed")
        elif self.phase == "handshake":
            self._record("rejected", "closed")
        elif self.phase == "relaying" and self.peer is not None:
            self._pair_ended(self.peer)
        self.phase = "closed"
        self.relay.conns.discard(self)
        self.relay.check_idle()

    def _pair_ended(self, peer: _Conn) -> None:
        """The first side of a pair to go accounts for the pair, once."""
        relay = self.relay
        relay.pairs_active -= 1
        if self.session_id:
            relay.state.session_ended(self.session_id)
        engineer, customer = (self, peer) if self.is_engineer else (peer, self)
        sid = self.session_id or ""
        resumed = self.resumed
        failed = not resumed and self.moved + peer.moved < FAILED_PAIR_BYTES
        if failed:
            relay.backoff.failed(engineer.address, sid)
        elif not resumed:  # a resumption proves itself end to end, not with the password
            relay.backoff.succeeded(engineer.address, sid)
        now = time.monotonic()
        relay.emit(
            PairingRecord(
                outcome="resumed" if resumed else "failed-try" if failed else "paired",
                transport=self.transport_name,
                started=customer.started,
                ended=time.time(),
                session_id=sid,
                customer=customer.address,
                engineer=engineer.address,
                wait=engineer.paired_at - customer.t0,
                duration=now - engineer.paired_at,
                bytes_to_engineer=customer.moved,
                bytes_to_customer=engineer.moved,
            )
        )
        self.recorded = peer.recorded = True
        peer.phase = "ending"
        peer.close()

    def _record(self, outcome: Outcome, reason: str | None = None) -> None:
        if self.recorded:
            return
        self.recorded = True
        self.relay.emit(
            PairingRecord(
                outcome=outcome,
                transport=self.transport_name,
                started=self.started,
                ended=time.time(),
                reason=reason,
                session_id=self.session_id,
                customer=self.address if self.role == "customer" else None,
                engineer=self.address if self.role == "engineer" else None,
                client=self.address if self.role is None else None,
            )
        )

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def fail(self, reason: str, retry_after: float | None = None) -> None:
        """Send ``ERR`` and close; an offer that had its ID is lonely, anything else rejected."""
        if self.phase == "offered":
            self.relay.state.withdraw(self)
            self._record("lonely", reason)
            self.phase = "handshake"
        else:
            self._record("rejected", reason)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(handshake.format_err(reason, retry_after))
        self.close()

    # -- data -------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.phase == "relaying":
            self._forward(data)
            return
        self.buffer += data
        if self.phase != "handshake":
            if len(self.buffer) > handshake.MAX_LINE:  # clients must wait for PAIRED
                self.fail(handshake.ERR_BAD_REQUEST)
            return
        end = self.buffer.find(b"\n")
        if end < 0:
            if len(self.buffer) >= handshake.MAX_LINE:
                self.fail(handshake.ERR_BAD_REQUEST)
            return
        line, rest = bytes(self.buffer[: end + 1]), self.buffer[end + 1 :]
        self.buffer = bytearray(rest)
        try:
            request = handshake.parse_request(line)
        except ProtocolError:
            self.fail(handshake.ERR_BAD_REQUEST)
            return
        if isinstance(request, handshake.Resume):
            self._resume(request)
            return
        self.role = "engineer" if isinstance(request, handshake.Connect) else "customer"
        self.session_id = request.session_id  # for the record; None on a first offer
        if isinstance(request, handshake.Connect) and self._held_back(request.session_id):
            return
        self._decide(request)

    def _forward(self, data: bytes) -> None:
        assert self.peer is not None and self.peer.transport is not None
        n = len(data)
        self.moved += n
        if self.is_engineer:
            self.relay.bytes_to_customer += n
        else:
            self.relay.bytes_to_engineer += n
        self.peer.transport.write(data)
        total = self.relay.total_bucket
        if self.bucket is not None or total is not None:
            wait = max(self.bucket.take(n) if self.bucket else 0.0, total.take(n) if total else 0.0)
            if wait > 0:
                self._hold(wait)

    def _hold(self, seconds: float) -> None:
        """A bandwidth cap is spent: stop reading this side until the bucket refilled."""
        self.relay.throttled += 1
        if self.throttle:
            self.throttle.cancel()
        self.throttle = asyncio.get_running_loop().call_later(seconds, self._release)
        self._update_reading()

    def _release(self) -> None:
        self.throttle = None
        self._update_reading()

    def _update_reading(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.backpressured or self.throttle is not None:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _held_back(self, sid: str) -> bool:
        """Refuse at once, with the seconds to wait, a try this address may not make yet.

        Answering at once (instead of stalling the connection) lets the engineer's
        side say how long to wait, and never runs into its connect timeout.
        """
        if self.relay.draining:
            return False  # the successor decides; here it is ERR draining
        wait = self.relay.backoff.wait(self.address, sid)
        if wait > 0:
            self.fail(handshake.ERR_BACKOFF, wait)
            return True
        wait = self.relay.lookups.wait(self.address)
        if wait > 0:
            self.fail(handshake.ERR_RATE_LIMITED, wait)
            return True
        return False

    def _decide(self, request: handshake.Offer | handshake.Connect) -> None:
        d = self.relay.state.handle(self, request)
        assert self.transport is not None
        if d.kind == "err":
            if d.reason == handshake.ERR_UNKNOWN_ID:
                self.relay.lookups.wrong(self.address)
            self.fail(d.reason or handshake.ERR_BAD_REQUEST)
        elif d.kind == "offered":
            assert d.session_id and d.claim
            self.phase, self.session_id = "offered", d.session_id
            self.t0 = time.monotonic()
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

    def _resume(self, request: handshake.Resume) -> None:
        """Pair the two sides of a dropped session by ID and resumption token.

        Nothing about the session is kept between resumptions: both sides bring
        ID and token, so a restarted relay pairs them just the same.  A newer
        try of the same side replaces an older one still waiting.
        """
        self.role, self.session_id = request.role, request.session_id
        if self.relay.draining:
            self.fail(handshake.ERR_DRAINING)
            return
        other = "customer" if request.role == "engineer" else "engineer"
        peer = self.relay.resumes.pop((request.session_id, request.token, other), None)
        if peer is not None:
            peer.resumed = self.resumed = True
            engineer, customer = (self, peer) if request.role == "engineer" else (peer, self)
            engineer._pair(customer, request.session_id)
            return
        key = (request.session_id, request.token, request.role)
        stale = self.relay.resumes.get(key)
        self.relay.resumes[key] = self
        self.resume_key, self.phase = key, "resuming"
        if stale is not None:
            stale.resume_key = None
            stale.fail(handshake.ERR_BUSY)
        self._arm(self.relay.config.resume_wait)

    def _forget_resume(self) -> None:
        key = self.resume_key
        if key is not None and self.phase == "resuming" and self.relay.resumes.get(key) is self:
            del self.relay.resumes[key]
            self.resume_key = None

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
        self.paired_at = time.monotonic()
        self.relay.pairs_active += 1
        bucket = _bucket(self.relay.config.pair_rate)
        for conn, other in ((self, customer), (customer, self)):
            conn.phase, conn.peer, conn.bucket = "relaying", other, bucket
            if conn.timer:
                conn.timer.cancel()
            assert conn.transport is not None
            conn.transport.write(handshake.PAIRED)
        log.info("paired engineer=%d customer=%d", self.cid, customer.cid)  # IDs stay out of logs
        for conn in (self, customer):
            if conn.buffer and conn.peer and conn.peer.transport:
                conn.peer.transport.write(bytes(conn.buffer))
            conn.buffer = bytearray()

    # -- backpressure: our write buffer is full -> stop reading from the peer
    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.backpressured = True
            self.peer._update_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.backpressured = False
            self.peer._update_reading()


async def start_relay(
    host: str = "127.0.0.1",
    port: int = 8340,
    *,
    config: RelayConfig | None = None,
    tls: ssl.SSLContext | None = None,
    reuse_port: bool = False,
    relay: Relay | None = None,
) -> tuple[Relay, asyncio.Server]:
    """Start listening; the caller owns the returned server (``async with server``).

    ``tls`` makes the port speak TLS (a context the caller may reload in
    place); ``reuse_port`` lets a successor bind the same port while this
    relay drains (``SO_REUSEPORT``).
    """
    relay = relay or Relay(config)
    server = await asyncio.get_running_loop().create_server(
        relay.protocol("tls" if tls else "tcp"),
        host,
        port,
        backlog=1024,
        ssl=tls,
        reuse_port=reuse_port or None,
    )
    relay.servers.append(server)
    return relay, server
