"""The client's WebSocket-over-TLS carrier, bridged to a loopback TCP socket.

The PAKE exchange and asyncssh take a connected ``socket.socket`` (asyncssh's
``run_client`` wants a (host, port) peer name, so a loopback TCP pair, not an
AF_UNIX socketpair). Two protocols copy bytes between our end of the pair and
the WebSocket in callbacks, without tasks or stream buffers: each binary
message carries bytes of the same stream, in order.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Iterable
from typing import Final

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from zvkdiag._errors import ConnectError, ProxyError, UntrustedCertificate
from zvkdiag.transport.address import WSS_PATH, Route
from zvkdiag.transport.proxy import (
    MAX_BODY,
    MAX_HEAD,
    ConnectDialogue,
    ProxyURL,
    ResponseHead,
    parse_head,
)

__all__ = ["SUBPROTOCOL", "open_wss"]

log = logging.getLogger("zvkdiag.transport")
SUBPROTOCOL: Final = "zvk1"
WRITE_HIGH: Final = 1 << 20  # as the relay's pipe: a few reads in flight per direction

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_wss(route: Route, ctx: ssl.SSLContext) -> socket.socket:
    """Open TLS and the WebSocket along ``route``; return the caller's end of the bridge."""
    reader, writer = await (_tunnel(route, route.proxy) if route.proxy else _direct(route))
    try:
        await _tls(writer, route, ctx)
        ws, early = await _upgrade(reader, writer, route)
        return await _bridge(ws, writer, early)
    except BaseException:
        writer.close()
        raise


async def _direct(route: Route) -> Streams:
    try:
        return await asyncio.open_connection(route.host, route.port, limit=MAX_HEAD)
    except OSError as exc:
        raise ConnectError(
            f"Cannot reach {route.target}: {exc.strerror or exc}", address=route.target
        ) from exc


async def _to_proxy(route: Route, proxy: ProxyURL) -> Streams:
    try:
        return await asyncio.open_connection(proxy.host, proxy.port, limit=MAX_HEAD)
    except OSError as exc:
        raise ProxyError(
            f"The proxy {proxy.hostport} cannot be reached: {exc.strerror or exc}",
            address=route.target,
            proxy=proxy.hostport,
            reason="unreachable",
        ) from exc


async def _tunnel(route: Route, proxy: ProxyURL) -> Streams:
    """CONNECT through the proxy; a login goes on the same connection when it stays open.

    NTLM's second round must: a proxy that closes the connection then ends the try.
    """
    dialogue = ConnectDialogue(proxy, route.target)
    reader, writer = await _to_proxy(route, proxy)
    try:
        while True:
            writer.write(dialogue.request())
            head = await _read_head(reader, route, proxy)
            if dialogue.answer(head):
                return reader, writer
            if head.keeps_connection and head.content_length <= MAX_BODY:
                await reader.readexactly(head.content_length)
            elif dialogue.connection_bound:
                raise dialogue.lost_connection()
            else:
                writer.close()
                reader, writer = await _to_proxy(route, proxy)
    except BaseException:
        writer.close()
        raise


async def _read_head(reader: asyncio.StreamReader, route: Route, proxy: ProxyURL) -> ResponseHead:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
        return parse_head(raw)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError) as exc:
        raise ProxyError(
            f"The proxy {proxy.hostport} did not answer like an HTTP proxy ({exc}).",
            address=route.target,
            proxy=proxy.hostport,
            reason="bad-answer",
        ) from exc


async def _tls(writer: asyncio.StreamWriter, route: Route, ctx: ssl.SSLContext) -> None:
    via = f" (through the proxy {route.proxy.hostport})" if route.proxy else ""
    try:
        await writer.start_tls(ctx, server_hostname=route.host)
    except ssl.SSLCertVerificationError as exc:
        detail = exc.verify_message or str(exc)
        raise UntrustedCertificate(
            f"The relay {route.target}{via} showed a TLS certificate this computer does not "
            f"trust ({detail}). Either it is not ZVK's relay, or a TLS inspection whose "
            "certificate authority is not installed here sits in between.",
            address=route.target,
            detail=detail,
            proxy=route.proxy.hostport if route.proxy else "",
        ) from exc
    except (ssl.SSLError, OSError) as exc:
        raise ConnectError(
            f"TLS with the relay {route.target}{via} failed: {exc}", address=route.target
        ) from exc


async def _upgrade(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, route: Route
) -> tuple[WSConnection, list[Event]]:
    ws = WSConnection(ConnectionType.CLIENT)
    writer.write(ws.send(Request(host=route.target, target=WSS_PATH, subprotocols=[SUBPROTOCOL])))
    seen = 0
    while seen <= MAX_HEAD:
        try:
            data = await reader.read(MAX_HEAD)
        except OSError as exc:
            data, seen = b"", MAX_HEAD + 1
            log.info("upgrade broke: %s", exc)
        if not data:
            break
        seen += len(data)
        ws.receive_data(data)
        events = list(ws.events())
        for i, event in enumerate(events):
            if isinstance(event, AcceptConnection):
                return ws, events[i + 1 :]
            if isinstance(event, RejectConnection):
                raise ConnectError(
                    f"{route.target} answered HTTP {event.status_code} instead of opening "
                    "the relay's WebSocket: is that the zvkdiag relay?",
                    address=route.target,
                )
    raise ConnectError(
        f"{route.target} closed the connection while the WebSocket was being opened.",
        address=route.target,
    )


def _loopback_pair() -> tuple[socket.socket, socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        ours = socket.create_connection(lsock.getsockname())
        theirs, _ = lsock.accept()
    for s in (ours, theirs):
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ours, theirs


async def _bridge(
    ws: WSConnection, writer: asyncio.StreamWriter, early: list[Event]
) -> socket.socket:
    """Hand the TLS transport and our end of the pair to a ``_Bridge``; return their end.

    The relay speaks only after the client's handshake line, so after the
    upgrade answer nothing is left in the stream reader's buffer.
    """
    ours, theirs = _loopback_pair()
    loop = asyncio.get_running_loop()
    bridge = _Bridge(ws, writer)
    try:
        await loop.connect_accepted_socket(lambda: _LocalSide(bridge), ours)
    except BaseException:
        ours.close()
        theirs.close()
        raise
    writer.transport.set_protocol(_WsSide(bridge))
    bridge.events(early)
    return theirs


class _Bridge:
    """Copies bytes between the WebSocket (over TLS) and the loopback socket, in callbacks.

    Each read of the loopback socket goes out as one binary message; each
    message's bytes go to the loopback socket.  Backpressure: a full write
    buffer on one side pauses reading on the other (as the relay's pipe does).
    """

    def __init__(self, ws: WSConnection, writer: asyncio.StreamWriter) -> None:
        tls = writer.transport
        assert isinstance(tls, asyncio.Transport)
        self.ws, self.tls = ws, tls
        self.writer = writer  # a collected StreamWriter closes its transport
        self.local: asyncio.Transport | None = None
        tls.set_write_buffer_limits(high=WRITE_HIGH)

    def up(self, data: bytes) -> None:
        if self.ws.state is ConnectionState.OPEN and not self.tls.is_closing():
            self.tls.write(self.ws.send(BytesMessage(data=data)))

    def down(self, data: bytes) -> None:
        try:
            self.ws.receive_data(data)
            self.events(self.ws.events())
        except (LocalProtocolError, RemoteProtocolError) as exc:
            log.info("wss: broken WebSocket from the relay: %s", exc)
            self.close()

    def events(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, BytesMessage):
                if self.local is not None and not self.local.is_closing():
                    self.local.write(event.data)
            elif isinstance(event, Ping):
                self.tls.write(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                if self.ws.state is ConnectionState.REMOTE_CLOSING:
                    self.tls.write(self.ws.send(event.response()))
                self.close()
            elif isinstance(event, TextMessage):
                self.close()  # the carrier is binary only

    def close(self) -> None:
        if self.local is not None:
            self.local.close()
        if self.tls.is_closing():
            return
        if self.ws.state is ConnectionState.OPEN:
            self.tls.write(self.ws.send(CloseConnection(code=1000)))
        self.tls.close()

    def hold(self, transport: asyncio.BaseTransport | None, paused: bool) -> None:
        """One side's write buffer filled (``paused``) or drained: stop or resume the other."""
        if isinstance(transport, asyncio.ReadTransport) and not transport.is_closing():
            if paused:
                transport.pause_reading()
            else:
                transport.resume_reading()


class _LocalSide(asyncio.Protocol):
    """Our end of the loopback pair: what SSH and the PAKE write goes up."""

    def __init__(self, bridge: _Bridge) -> None:
        self.bridge = bridge

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.bridge.local = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH)

    def data_received(self, data: bytes) -> None:
        self.bridge.up(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.bridge.close()

    def pause_writing(self) -> None:
        self.bridge.hold(self.bridge.tls, True)

    def resume_writing(self) -> None:
        self.bridge.hold(self.bridge.tls, False)


class _WsSide(asyncio.Protocol):
    """The TLS transport after the upgrade: WebSocket frames come down."""

    def __init__(self, bridge: _Bridge) -> None:
        self.bridge = bridge

    def data_received(self, data: bytes) -> None:
        self.bridge.down(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.bridge.close()

    def pause_writing(self) -> None:
        self.bridge.hold(self.bridge.local, True)

    def resume_writing(self) -> None:
        self.bridge.hold(self.bridge.local, False)
