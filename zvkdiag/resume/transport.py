"""The resumable stream as the asyncio transport asyncssh runs on.

asyncssh's ``connect``/``connect_reverse`` take a ``tunnel=`` object whose
``create_connection`` may return any transport: ``ResumeTunnel`` hands over a
``ResumableTransport``, which numbers and keeps what SSH writes (``stream``),
frames it onto the current carrier socket, and, when the carrier breaks, dials
a new one with ``redial`` and proves the resumption key (``secret``) before it
replays.  SSH above sees one unbroken byte stream.

A carrier is *dead* when it closes, fails, or stays silent for ``DEAD_AFTER``
(each side sends an ACK every ``HEARTBEAT``).  Malformed frames are not a
drop: they end the stream with ``ProtocolError`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Final

from zvkdiag._errors import ProtocolError, SessionClosed, ZvkdiagError
from zvkdiag._sockio import recv_exactly, send_all
from zvkdiag.resume.frames import (
    HEADER,
    Decoder,
    Frame,
    Hello,
    Kind,
    decode_header,
    encode,
    encode_hello,
    parse_ack,
    parse_hello,
)
from zvkdiag.resume.secret import ResumeSecret
from zvkdiag.resume.stream import StreamState

__all__ = [
    "DEAD_AFTER",
    "EXTRA_KEY",
    "GRACE",
    "HEARTBEAT",
    "ResumableTransport",
    "ResumeRefused",
    "ResumeTunnel",
]

log = logging.getLogger("zvkdiag.resume")
GRACE: Final = 60.0
"""Seconds both sides keep trying to resume before the session ends as without resumption."""
HEARTBEAT: Final = 1.0
DEAD_AFTER: Final = 3.0
ACK_DELAY: Final = 0.5
"""Seconds an ACK waits for DATA of ours to ride on before it goes alone (``_acknowledge``)."""
HANDSHAKE_TIMEOUT: Final = 10.0
RETRY: Final = (0.1, 0.25, 0.5)
CLOSE_LINGER: Final = 2.0
EXTRA_KEY: Final = "zvkdiag.resumable"
"""``get_extra_info`` name under which the transport (and asyncssh's connection) gives itself."""

Redial = Callable[[str], Awaitable[socket.socket]]
"""Open a new carrier paired with the peer, given the relay token; raise when it cannot."""
Events = Callable[[str], None]
"""Told ``interrupted``, ``restored``, ``refused`` (a wrong or replayed proof), ``gave-up``."""


class ResumeRefused(SessionClosed):
    """The other side of a resumption could not prove the session's resumption key."""


class _Carrier(asyncio.Protocol):
    """One carrier socket; what arrives before the stream adopted it is held back."""

    def __init__(self, owner: ResumableTransport) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.adopted = False
        self.early = bytearray()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.owner._open_carriers.add(self)
        self.owner._all_closed.clear()

    def data_received(self, data: bytes) -> None:
        if self.adopted:
            self.owner._carrier_data(self, data)
        else:
            self.early += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.owner._open_carriers.discard(self)
        if not self.owner._open_carriers:
            self.owner._all_closed.set()
        if self.adopted:
            self.owner._carrier_lost(self, exc)


class ResumableTransport(asyncio.Transport):
    """SSH's transport: one unbroken stream over carriers that may come and go."""

    def __init__(
        self,
        secret: ResumeSecret,
        *,
        redial: Redial | None,
        grace: float = GRACE,
        on_event: Events | None = None,
        state: StreamState | None = None,
    ) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self.secret = secret
        self._redial = redial
        self.grace = grace
        self._on_event = on_event or (lambda _: None)
        self.state = state or StreamState()
        self._protocol: asyncio.Protocol | None = None
        self._carrier: _Carrier | None = None
        self._lingering: _Carrier | None = None
        self._linger_listens = True
        self._decoder = Decoder()
        self._closing = False
        self._ended = False
        self._reading = True
        self._heard = 0.0
        self._ack_timer: asyncio.TimerHandle | None = None
        self._beat: asyncio.TimerHandle | None = None
        self._resuming: asyncio.Task[None] | None = None
        self._extra: dict[str, Any] = {}
        self._open_carriers: set[_Carrier] = set()
        self._all_closed = asyncio.Event()  # set while ``_open_carriers`` is empty
        self._all_closed.set()
        self.resumptions = 0

    # -- asyncio.Transport for asyncssh -------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return self._closing

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self._protocol = protocol

    def is_reading(self) -> bool:
        return self._reading

    def pause_reading(self) -> None:
        self._reading = False
        if self._carrier and self._carrier.transport:
            self._carrier.transport.pause_reading()

    def resume_reading(self) -> None:
        self._reading = True
        if self._carrier and self._carrier.transport:
            self._carrier.transport.resume_reading()

    def get_write_buffer_size(self) -> int:
        return self.state.unacked

    def can_write_eof(self) -> bool:
        return False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        try:
            out = self.state.send(bytes(data))
        except ZvkdiagError as exc:
            self._end(exc)
            return
        if self._carrier is not None and self._carrier.transport is not None:
            if self.state.received > self.state.acked_to_peer:
                out.append(self.state.ack())  # rides along: no packet, no wake-up of its own
                self._cancel_ack_timer()
            self._carrier.transport.writelines(out)

    def close(self) -> None:
        """We end the stream on purpose: say so to the peer, then close the carrier."""
        if self._closing:
            return
        self._closing = True
        current = self._carrier
        carrier = current.transport if current is not None else None
        if current is not None and carrier is not None and not carrier.is_closing():
            # Keep the carrier open until the peer, having read CLOSE, closes its side:
            # closing at once can make the relay reset the peer's connection while the
            # peer still writes, and a reset drops what the peer had not read yet.
            carrier.write(encode(Kind.CLOSE))
            self._linger(current, listen=True)
        self._end(None)

    def _linger(self, carrier: _Carrier, *, listen: bool) -> None:
        """Keep ``carrier`` open, reading, for ``CLOSE_LINGER`` after our ``CLOSE``.

        A socket closed with unread bytes in its buffer sends a reset, and a reset can
        lose what we wrote just before, our ``CLOSE`` included: the peer would then take
        the end for a dropped connection and try to resume.  ``listen``: the peer's own
        ``CLOSE`` ends the wait early; after a malformed frame nothing it sends can be
        parsed, so what arrives is only read and dropped.
        """
        assert carrier.transport is not None
        self._lingering, self._linger_listens = carrier, listen
        if carrier is self._carrier:
            self._carrier = None
        carrier.transport.resume_reading()
        self._loop.call_later(CLOSE_LINGER, carrier.transport.close)

    def abort(self) -> None:
        """Also a deliberate end: asyncssh aborts its transport right after its goodbye.

        So what is buffered still goes out, followed by ``CLOSE``: dropping it would
        look like a lost connection to the peer, which would then try to resume.
        """
        self.close()

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until every carrier socket is closed; after ``timeout``, close them at once.

        Call it after the stream ended and before its event loop stops: a carrier
        still lingering for the peer's goodbye would otherwise stay open for ever.
        True when every carrier had closed by itself (the default ``timeout`` is a
        little over ``CLOSE_LINGER``).
        """
        if timeout is None:
            timeout = CLOSE_LINGER + 0.5
        if self._open_carriers:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._all_closed.wait()
        forced = [c.transport for c in self._open_carriers if c.transport is not None]
        for transport in forced:
            transport.abort()
        await asyncio.sleep(0)  # let the aborted transports run their connection_lost
        return not forced

    # -- starting -------------------------------------------------------------------
    async def start(self, protocol: asyncio.Protocol, sock: socket.socket) -> None:
        """Hand the stream to ``protocol`` and put the first carrier in place."""
        with contextlib.suppress(OSError):
            self._extra = {"peername": sock.getpeername(), "sockname": sock.getsockname()}
        self._extra[EXTRA_KEY] = self
        self._protocol = protocol
        protocol.connection_made(self)
        await self._attach(sock, 0)
        self._beat = self._loop.call_later(HEARTBEAT, self._heartbeat)

    async def _attach(self, sock: socket.socket, peer_received: int) -> None:
        own = sock.dup()  # the carrier's own handle: whoever dialled may close theirs
        sock.close()
        _, carrier = await self._loop.create_connection(lambda: _Carrier(self), sock=own)
        assert carrier.transport is not None
        if self._closing:
            carrier.transport.close()
            return
        frames = self.state.replay(peer_received)  # after the await: SSH may have written since
        self._carrier, self._decoder, self._heard = carrier, Decoder(), self._loop.time()
        carrier.adopted = True
        if not self._reading:
            carrier.transport.pause_reading()
        carrier.transport.writelines([*frames, self.state.ack()])
        if carrier.early:
            self._carrier_data(carrier, bytes(carrier.early))
        if carrier.lost:
            self._carrier_lost(carrier, None)

    # -- the carrier ------------------------------------------------------------------
    def _carrier_data(self, carrier: _Carrier, data: bytes) -> None:
        if carrier is self._lingering:
            self._linger_data(carrier, data)
            return
        if carrier is not self._carrier or self._protocol is None:
            return
        self._heard = self._loop.time()
        try:
            self._take(self._decoder.feed(data))
        except ProtocolError as exc:
            log.warning("resumable stream: %s", exc)
            self._closing = True
            if carrier.transport:  # tell the peer it is over, or it would try to resume
                carrier.transport.write(encode(Kind.CLOSE))
                self._linger(carrier, listen=False)
            self._end(exc)
            return
        self._acknowledge()

    def _linger_data(self, carrier: _Carrier, data: bytes) -> None:
        """After our CLOSE, the peer's own CLOSE (both ended at once) ends the linger."""
        if not self._linger_listens:
            return
        try:
            done = any(frame.kind is Kind.CLOSE for frame in self._decoder.feed(data))
        except ProtocolError:
            done = True  # garbage after our goodbye: nothing more to wait for
        if done and carrier.transport is not None:
            carrier.transport.close()

    def _take(self, frames: list[Frame]) -> None:
        """Hand each DATA payload up as it is (asyncssh appends it to its own buffer)."""
        assert self._protocol is not None
        for frame in frames:
            if self._closing:
                return
            if frame.kind is Kind.DATA:
                self._protocol.data_received(self.state.on_data(frame.payload))  # type: ignore[arg-type]
            elif frame.kind is Kind.ACK:
                self.state.on_ack(parse_ack(frame.payload))
            elif frame.kind is Kind.CLOSE:
                self._closing = True
                self._loop.call_soon(self._end, None)
            else:
                raise ProtocolError(f"a {frame.kind.name} frame in the middle of the stream")

    def _acknowledge(self) -> None:
        """ACK what arrived: at once after ``ACK_EVERY`` bytes, else with our next DATA.

        A request answered within ``ACK_DELAY`` (a screen frame and its ack, a
        command and its output) carries the ACK in the answer's write; only a
        stream that stays silent gets a lone ACK after ``ACK_DELAY`` (and each
        ``HEARTBEAT`` sends one anyway).  A lone ACK per message would cost both
        ends and the relay a wake-up each, per typed key.
        """
        if self.state.ack_due():
            self._send_ack()
        elif self._ack_timer is None and self.state.received > self.state.acked_to_peer:
            self._ack_timer = self._loop.call_later(ACK_DELAY, self._send_ack)

    def _cancel_ack_timer(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None

    def _send_ack(self) -> None:
        self._cancel_ack_timer()
        if self._carrier is not None and self._carrier.transport is not None:
            self._carrier.transport.write(self.state.ack())

    def _heartbeat(self) -> None:
        if self._ended:
            return
        self._beat = self._loop.call_later(HEARTBEAT, self._heartbeat)
        carrier = self._carrier
        if carrier is None or carrier.transport is None:
            return
        if self._loop.time() - self._heard > DEAD_AFTER:
            log.info("resumable stream: carrier silent for %.0f s", DEAD_AFTER)
            carrier.transport.abort()
            return
        self._send_ack()

    def _carrier_lost(self, carrier: _Carrier, exc: Exception | None) -> None:
        if carrier is not self._carrier:
            return
        self._carrier = None
        if self._closing or self._ended:
            self._end(None)
            return
        if self._redial is None or self.grace <= 0:
            self._end(SessionClosed("The connection was lost."))
            return
        log.info("resumable stream: carrier lost (%s); resuming", exc)
        self._on_event("interrupted")
        self._resuming = asyncio.ensure_future(self._resume())

    # -- resuming ---------------------------------------------------------------------
    async def _resume(self) -> None:
        assert self._redial is not None
        deadline = self._loop.time() + self.grace
        tries = 0
        while not self._closing:
            left = deadline - self._loop.time()
            if left <= 0:
                break
            try:
                async with asyncio.timeout(left):
                    sock = await self._redial(self.secret.relay_token())
                    await self._handshake(sock)
                self.resumptions += 1
                self._on_event("restored")
                return
            except ResumeRefused as exc:
                log.warning("resumption refused: %s", exc)
                self._on_event("refused")
            except (ZvkdiagError, OSError, TimeoutError) as exc:
                log.info("resumption try failed: %s", exc)
            delay = RETRY[min(tries, len(RETRY) - 1)]
            tries += 1
            await asyncio.sleep(min(delay, max(0.0, deadline - self._loop.time())))
        if not self._closing:
            self._on_event("gave-up")
            self._end(
                SessionClosed(
                    f"The connection was lost and did not come back within {self.grace:g} s."
                )
            )

    async def _handshake(self, sock: socket.socket) -> None:
        """HELLO both ways, then PROOF both ways; a wrong proof is refused and counted."""
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT):
                mine = self.secret.hello(self.state.received)
                await send_all(sock, encode_hello(mine))
                theirs = parse_hello(await _expect(sock, Kind.HELLO))
                await send_all(sock, encode(Kind.PROOF, self.secret.proof(mine, theirs)))
                mac = await _expect(sock, Kind.PROOF)
                if not self.secret.verify(mine, theirs, mac):
                    with contextlib.suppress(ZvkdiagError):
                        await send_all(sock, encode(Kind.REFUSED))
                    raise ResumeRefused("The resumption was not proven with this session's key.")
                self._check_offset(theirs)
                self.secret.advance(mine, theirs)
                await self._attach(sock, theirs.received)
        except BaseException:
            if self._carrier is None or self._carrier.transport is None:
                sock.close()
            raise

    def _check_offset(self, theirs: Hello) -> None:
        if not self.state.acked <= theirs.received <= self.state.sent:
            raise ProtocolError(
                f"the peer resumes at offset {theirs.received}, "
                f"outside {self.state.acked}..{self.state.sent}"
            )

    # -- ending -------------------------------------------------------------------------
    def _end(self, exc: Exception | None) -> None:
        if self._ended:
            return
        self._ended = True
        self._closing = True
        for timer in (self._ack_timer, self._beat):
            if timer is not None:
                timer.cancel()
        if self._resuming is not None and self._resuming is not asyncio.current_task():
            self._resuming.cancel()
        if self._carrier is not None and self._carrier.transport is not None:
            self._carrier.transport.close()
        if self._protocol is not None:
            self._loop.call_soon(self._protocol.connection_lost, exc)


async def _expect(sock: socket.socket, kind: Kind) -> bytes:
    got, length = decode_header(await recv_exactly(sock, HEADER))
    payload = await recv_exactly(sock, length) if length else b""
    if got is Kind.REFUSED:
        raise SessionClosed("The other side refused the resumption.")
    if got is not kind:
        raise ProtocolError(f"expected {kind.name} in the resumption, got {got.name}")
    return payload


class ResumeTunnel:
    """What asyncssh's ``tunnel=`` takes: its ``create_connection`` returns our transport."""

    def __init__(self, transport: ResumableTransport, sock: socket.socket) -> None:
        self.transport = transport
        self._sock = sock

    async def create_connection(
        self, protocol_factory: Callable[[], asyncio.BaseProtocol], host: str, port: int
    ) -> tuple[asyncio.BaseTransport, asyncio.BaseProtocol]:
        protocol = protocol_factory()
        assert isinstance(protocol, asyncio.Protocol)
        await self.transport.start(protocol, self._sock)
        return self.transport, protocol
