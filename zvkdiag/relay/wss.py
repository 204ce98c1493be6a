"""The relay's second carrier: the same pairing protocol inside WebSocket over TLS.

``WssConn`` terminates TLS (asyncio) and WebSocket (wsproto for the upgrade,
``transport.wsframe`` for the frames after it; neither does I/O) and hands the
relay's ordinary per-connection protocol a transport whose ``write`` sends one
binary message: pairing, limits and the blind byte pipe are
the very same code for both carriers, and a raw TCP engineer pairs with a wss
customer. Backpressure passes through: the TLS transport's pause/resume writing
reaches the pipe, the pipe's pause/resume reading reaches the TLS transport.

Memory per idle offer: asyncio's TLS protocol keeps a 256 KiB read buffer for
every connection, which was most of what an idle wss offer cost. ``_LeanTLS``
starts each connection with ``IDLE_READ`` bytes and grows the buffer (up to
``BUSY_READ``) only when a read fills it, so idle offers stay small and a busy
pipe reads as much per call as before.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from asyncio import sslproto
from typing import Any, Final

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, Request
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from zvkdiag.relay.server import Relay
from zvkdiag.transport import wsframe
from zvkdiag.transport.address import WSS_PATH
from zvkdiag.transport.wsclient import CLOSE_UNSUPPORTED, SUBPROTOCOL

__all__ = ["BUSY_READ", "IDLE_READ", "UPGRADE_TIMEOUT", "WssConn", "start_wss_relay"]

log = logging.getLogger("zvkdiag.relay")
UPGRADE_TIMEOUT: Final = 10.0  # TLS handshake, then the HTTP upgrade request
IDLE_READ: Final = 4 * 1024
BUSY_READ: Final = 256 * 1024  # asyncio's own size, reached after a few full reads


class _LeanTLS(sslproto.SSLProtocol):
    """asyncio's TLS protocol whose read buffer starts at one record and grows when filled.

    ``max_size`` is both the socket read buffer's size and the chunk decrypted per
    call; as a class attribute it sets the start, as an instance attribute the
    current size (``get_buffer`` reallocates when it grew).
    """

    max_size = IDLE_READ

    def buffer_updated(self, nbytes: int) -> None:
        full = nbytes >= self.max_size  # the socket transport asks for max_size bytes
        super().buffer_updated(nbytes)
        if full and self.max_size < BUSY_READ:
            # typeshed calls it a ClassVar; asyncio reads it through the instance
            self.max_size = min(self.max_size * 4, BUSY_READ)  # type: ignore[misc]


class _MessageTransport(asyncio.Transport):
    """What the relay's protocol writes to: each ``write`` is one binary WebSocket message."""

    def __init__(self, conn: WssConn) -> None:
        super().__init__()
        self._conn = conn

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._conn.send(data)

    def close(self) -> None:
        self._conn.close()

    def is_closing(self) -> bool:
        return self._conn.closing

    def pause_reading(self) -> None:
        self._conn.outer_call("pause_reading")

    def resume_reading(self) -> None:
        self._conn.outer_call("resume_reading")

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._conn.outer_call("set_write_buffer_limits", high, low)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        outer = self._conn.outer
        return outer.get_extra_info(name, default) if outer is not None else default


class WssConn(asyncio.BufferedProtocol):
    """One wss connection: wsproto reads the upgrade request, ``wsframe`` every frame after it.

    A buffered protocol, so asyncio's TLS layer decrypts into our buffer instead
    of allocating a ``bytes`` of its whole read size for each 16 KiB record.
    The buffer follows ``_LeanTLS``'s rule, it grows while reads fill it; until
    the first full read it is given back after each read, so idle offers hold none.
    Nothing keeps a view of it: the decoder unmasks each payload into new bytes.
    """

    def __init__(self, relay: Relay) -> None:
        self.inner = relay.protocol("wss")()
        self.ws: WSConnection | None = WSConnection(ConnectionType.SERVER)  # until the upgrade
        self.decoder = wsframe.Decoder(masked=True)
        self.outer: asyncio.Transport | None = None
        self.opened = False
        self.closing = False
        self.closed = False  # a close frame went out
        self.timer: asyncio.TimerHandle | None = None
        self.read_size = IDLE_READ
        self.buffer: memoryview | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.outer = transport
        self.timer = asyncio.get_running_loop().call_later(UPGRADE_TIMEOUT, self.close)

    def outer_call(self, name: str, *args: Any) -> None:
        if self.outer is not None and not self.outer.is_closing():
            getattr(self.outer, name)(*args)

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """One unmasked binary frame; header and payload go to TLS without joining them."""
        if self.opened and not self.closed and self.outer and not self.outer.is_closing():
            self.outer.writelines((wsframe.header(wsframe.Opcode.BINARY, len(data)), data))

    def close(self, code: int = wsframe.CLOSE_NORMAL) -> None:
        if self.closing:
            return
        self.closing = True
        if self.outer is None or self.outer.is_closing():
            return
        if self.opened and not self.closed:
            self.closed = True
            code = wsframe.CLOSE_NORMAL if code == wsframe.CLOSE_NO_CODE else code
            self.outer.write(wsframe.encode_close(code, masked=False))
        self.outer.close()

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.buffer is None:
            self.buffer = memoryview(bytearray(self.read_size))
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        assert self.buffer is not None
        data = self.buffer[:nbytes]
        if nbytes >= self.read_size and self.read_size < BUSY_READ:
            self.read_size, self.buffer = min(self.read_size * 4, BUSY_READ), None
        elif self.read_size == IDLE_READ:
            self.buffer = None  # never busy yet: an idle offer keeps no buffer
        self.data_received(data)

    def data_received(self, data: bytes | memoryview) -> None:
        if self.ws is not None:
            self._handshake(bytes(data))
            return
        try:
            events = self.decoder.feed(data)
        except wsframe.FrameError as exc:
            log.info("wss: broken WebSocket from %s: %s", self._peer(), exc)
            self.close(exc.code)
            return
        for event in events:
            self._event(event)

    def _handshake(self, data: bytes) -> None:
        """The upgrade request; a client sends no frame before our answer (RFC 6455, 4.1)."""
        assert self.ws is not None
        try:
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, Request):
                    self._upgrade(self.ws, event)
                    return
        except (LocalProtocolError, RemoteProtocolError) as exc:
            log.info("wss: broken upgrade request from %s: %s", self._peer(), exc)
            self.close()

    def _event(self, event: wsframe.Event) -> None:
        if isinstance(event, wsframe.Data):
            if event.text:
                self.close(CLOSE_UNSUPPORTED)  # the carrier is binary only
            elif event.payload:
                self.inner.data_received(event.payload)  # type: ignore[arg-type]
        elif event.opcode is wsframe.Opcode.PING:
            if not self.closed:
                self._write(wsframe.encode(wsframe.Opcode.PONG, event.payload, masked=False))
        elif event.opcode is wsframe.Opcode.CLOSE:
            self.close(wsframe.parse_close(event.payload).code)

    def _upgrade(self, ws: WSConnection, request: Request) -> None:
        self.ws = None
        if request.target != WSS_PATH:
            self._write(ws.send(RejectConnection(status_code=404)))
            self.close()
            return
        sub = SUBPROTOCOL if SUBPROTOCOL in request.subprotocols else None
        self._write(ws.send(AcceptConnection(subprotocol=sub)))
        if self.timer:
            self.timer.cancel()
        self.opened = True
        self.inner.connection_made(_MessageTransport(self))

    def _write(self, data: bytes | bytearray) -> None:
        if self.outer is not None and not self.outer.is_closing():
            self.outer.write(data)

    def _peer(self) -> str:
        peer = self.outer.get_extra_info("peername") if self.outer else None
        return str(peer[0]) if peer else "?"

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self.timer:
            self.timer.cancel()
        if self.opened:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


async def start_wss_relay(
    relay: Relay,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext,
    *,
    reuse_port: bool = False,
) -> asyncio.Server:
    """Serve ``relay`` (shared with the raw TCP listener, if any) as wss on host:port.

    The server joins ``relay.servers``, so a drain stops this listener too.
    """
    loop = asyncio.get_running_loop()

    def tls() -> asyncio.BaseProtocol:
        # No waiter: a failed or slow handshake closes the connection by itself
        # (``_fatal_error``); typeshed wants a future and an int timeout.
        conn = WssConn(relay)
        timeout: Any = UPGRADE_TIMEOUT
        waiter: Any = None
        return _LeanTLS(loop, conn, ssl_context, waiter, True, ssl_handshake_timeout=timeout)

    server = await loop.create_server(
        tls,
        host,
        port,
        backlog=1024,
        reuse_port=reuse_port or None,
    )
    relay.servers.append(server)
    return server
