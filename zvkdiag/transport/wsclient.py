"""The client's WebSocket-over-TLS carrier, bridged to a loopback TCP socket.

The PAKE exchange and asyncssh take a connected ``socket.socket`` (asyncssh's
``run_client`` wants a (host, port) peer name, so a loopback TCP pair, not an
AF_UNIX socketpair). A pump task copies bytes between our end of the pair and
the WebSocket: each binary message carries bytes of the same stream, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
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
CHUNK: Final = 256 * 1024
_pumps: set[asyncio.Task[None]] = set()

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_wss(route: Route, ctx: ssl.SSLContext) -> socket.socket:
    """Open TLS and the WebSocket along ``route``; return the caller's end of the bridge."""
    reader, writer = await (_tunnel(route, route.proxy) if route.proxy else _direct(route))
    try:
        await _tls(writer, route, ctx)
        ws, early = await _upgrade(reader, writer, route)
        return _bridge(ws, reader, writer, early)
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


def _bridge(
    ws: WSConnection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    early: list[Event],
) -> socket.socket:
    ours, theirs = _loopback_pair()
    task = asyncio.create_task(_pump(ws, reader, writer, ours, early))
    _pumps.add(task)
    task.add_done_callback(_pumps.discard)
    return theirs


async def _pump(
    ws: WSConnection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    ours: socket.socket,
    early: list[Event],
) -> None:
    up = asyncio.create_task(_up(ws, writer, ours))
    down = asyncio.create_task(_down(ws, reader, writer, ours, early))
    try:
        await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (up, down):
            t.cancel()
        for t in (up, down):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        ours.close()
        if ws.state is ConnectionState.OPEN:
            with contextlib.suppress(Exception):
                writer.write(ws.send(CloseConnection(code=1000)))
        writer.close()


async def _up(ws: WSConnection, writer: asyncio.StreamWriter, ours: socket.socket) -> None:
    """Local bytes out as binary messages; the peer's window drains them (backpressure)."""
    loop = asyncio.get_running_loop()
    while data := await loop.sock_recv(ours, CHUNK):
        if ws.state is not ConnectionState.OPEN:
            return
        writer.write(ws.send(BytesMessage(data=data)))
        await writer.drain()


async def _down(
    ws: WSConnection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    ours: socket.socket,
    early: list[Event],
) -> None:
    loop = asyncio.get_running_loop()
    pending = early
    while True:
        for event in pending:
            if isinstance(event, BytesMessage):
                await loop.sock_sendall(ours, event.data)
            elif isinstance(event, Ping):
                writer.write(ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                if ws.state is ConnectionState.REMOTE_CLOSING:
                    writer.write(ws.send(event.response()))
                return
            elif isinstance(event, TextMessage):
                return  # the carrier is binary only
        data = await reader.read(CHUNK)
        if not data:
            return
        ws.receive_data(data)
        pending = list(ws.events())
