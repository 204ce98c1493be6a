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
from typing import Final

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, Request
from wsproto.utilities import RemoteProtocolError

from zvkdiag._errors import ConnectError, ProxyError, UntrustedCertificate
from zvkdiag.transport import wsframe
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
CLOSE_UNSUPPORTED: Final = 1003  # a text message on the binary carrier
_READ_ALL: Final = 1 << 22  # more than the stream reader ever holds
READ_CHUNK: Final = 256 * 1024  # decrypted bytes per read of the TLS transport

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_wss(route: Route, ctx: ssl.SSLContext) -> socket.socket:
    """Open TLS and the WebSocket along ``route``; return the caller's end of the bridge."""
    reader, writer = await (_tunnel(route, route.proxy) if route.proxy else _direct(route))
    try:
        await _tls(writer, route, ctx)
        return await _bridge(reader, writer, route)
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
) -> bytes:
    """Send the upgrade request, check the answer; return bytes that came after it.

    wsproto checks the handshake; the frames after it are ours (``wsframe``).
    Each read takes all the reader holds, so nothing stays behind in it.
    """
    ws = WSConnection(ConnectionType.CLIENT)
    writer.write(ws.send(Request(host=route.target, target=WSS_PATH, subprotocols=[SUBPROTOCOL])))
    got = bytearray()
    while len(got) <= MAX_HEAD:
        try:
            data = await reader.read(_READ_ALL)
        except OSError as exc:
            log.info("upgrade broke: %s", exc)
            break
        if not data:
            break
        got += data
        end = got.find(b"\r\n\r\n")
        if end >= 0:
            _check_answer(ws, bytes(got[: end + 4]), route)
            return bytes(got[end + 4 :])
    raise ConnectError(
        f"{route.target} closed the connection while the WebSocket was being opened.",
        address=route.target,
    )


def _check_answer(ws: WSConnection, head: bytes, route: Route) -> None:
    try:
        ws.receive_data(head)
        events = list(ws.events())
    except RemoteProtocolError as exc:
        events, detail = [], str(exc)
    else:
        detail = "no WebSocket upgrade"
    for event in events:
        if isinstance(event, AcceptConnection):
            return
        if isinstance(event, RejectConnection):
            detail = f"HTTP {event.status_code}"
    raise ConnectError(
        f"{route.target} answered {detail} instead of opening the relay's WebSocket: "
        "is that the zvkdiag relay?",
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
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, route: Route
) -> socket.socket:
    """Upgrade, then hand the TLS transport and our end of the pair to a ``_Bridge``.

    Our end of the pair is connected first, so nothing is awaited between the
    upgrade answer's last read and the switch to ``_WsSide``: frames the relay
    sends right behind its answer (ours speaks only after the client's line,
    others need not wait) reach the decoder, none stays in the stream reader.
    Returns the caller's end.
    """
    ours, theirs = _loopback_pair()
    loop = asyncio.get_running_loop()
    bridge = _Bridge(writer)
    try:
        await loop.connect_accepted_socket(lambda: _LocalSide(bridge), ours)
        early = await _upgrade(reader, writer, route)
    except BaseException:
        (bridge.local or ours).close()
        theirs.close()
        raise
    writer.transport.set_protocol(_WsSide(bridge))
    if early:
        bridge.down(memoryview(early))
    return theirs


class _Bridge:
    """Copies bytes between the WebSocket (over TLS) and the loopback socket, in callbacks.

    Each read of the loopback socket goes out as one masked binary frame; the
    payload of each frame that comes down goes to the loopback socket as it
    arrives.  Backpressure: a full write buffer on one side pauses reading on
    the other (as the relay's pipe does).
    """

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        tls = writer.transport
        assert isinstance(tls, asyncio.Transport)
        self.tls = tls
        self.writer = writer  # a collected StreamWriter closes its transport
        self.decoder = wsframe.Decoder(masked=False)
        self.local: asyncio.Transport | None = None
        self.closed = False  # a close frame went out
        tls.set_write_buffer_limits(high=WRITE_HIGH)

    def up(self, data: bytes | memoryview) -> None:
        if not self.closed and not self.tls.is_closing():
            self.tls.write(wsframe.encode(wsframe.Opcode.BINARY, data, masked=True))

    def down(self, data: bytes | memoryview) -> None:
        try:
            events = self.decoder.feed(data)
        except wsframe.FrameError as exc:
            log.info("wss: broken WebSocket from the relay: %s", exc)
            self.close(exc.code)
            return
        for event in events:
            self.event(event)

    def event(self, event: wsframe.Event) -> None:
        if isinstance(event, wsframe.Data):
            if event.text:
                self.close(CLOSE_UNSUPPORTED)  # the carrier is binary only
            elif event.payload and self.local is not None and not self.local.is_closing():
                self.local.write(event.payload)
        elif event.opcode is wsframe.Opcode.PING:
            if not self.closed and not self.tls.is_closing():
                self.tls.write(wsframe.encode(wsframe.Opcode.PONG, event.payload, masked=True))
        elif event.opcode is wsframe.Opcode.CLOSE:
            self.close(wsframe.parse_close(event.payload).code)

    def close(self, code: int = wsframe.CLOSE_NORMAL) -> None:
        """Close both sides; the WebSocket with a close frame (an answer's echoes ``code``)."""
        if self.local is not None:
            self.local.close()
        if self.tls.is_closing():
            return
        if not self.closed:
            self.closed = True
            code = wsframe.CLOSE_NORMAL if code == wsframe.CLOSE_NO_CODE else code
            self.tls.write(wsframe.encode_close(code, masked=True))
        self.tls.close()

    def hold(self, transport: asyncio.BaseTransport | None, paused: bool) -> None:
        """One side's write buffer filled (``paused``) or drained: stop or resume the other."""
        if isinstance(transport, asyncio.ReadTransport) and not transport.is_closing():
            if paused:
                transport.pause_reading()
            else:
                transport.resume_reading()


class _LocalSide(asyncio.BufferedProtocol):
    """Our end of the loopback pair: what SSH and the PAKE write goes up.

    Read into one buffer (no fresh 256 KiB ``bytes`` per read): building the
    masked frame copies the bytes out of it before the next read.
    """

    def __init__(self, bridge: _Bridge) -> None:
        self.bridge = bridge
        self.buffer = memoryview(bytearray(READ_CHUNK))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.bridge.local = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.bridge.up(self.buffer[:nbytes])

    def connection_lost(self, exc: Exception | None) -> None:
        self.bridge.close()

    def pause_writing(self) -> None:
        self.bridge.hold(self.bridge.tls, True)

    def resume_writing(self) -> None:
        self.bridge.hold(self.bridge.tls, False)


class _WsSide(asyncio.BufferedProtocol):
    """The TLS transport after the upgrade: WebSocket frames come down.

    A buffered protocol: asyncio's TLS layer then decrypts straight into our
    buffer, record after record, instead of allocating a 256 KiB ``bytes`` for
    each 16 KiB record (3.5x the decryption's own cost, measured here).
    """

    def __init__(self, bridge: _Bridge) -> None:
        self.bridge = bridge
        self.buffer = memoryview(bytearray(READ_CHUNK))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        # One copy: a socket transport may keep a view of what it was given (3.12+),
        # and payloads go on as views of this copy, which nothing changes.
        self.bridge.down(memoryview(bytes(self.buffer[:nbytes])))

    def connection_lost(self, exc: Exception | None) -> None:
        self.bridge.close()

    def pause_writing(self) -> None:
        self.bridge.hold(self.bridge.local, True)

    def resume_writing(self) -> None:
        self.bridge.hold(self.bridge.local, False)
