"""RFC 6455 on the wire, both ends: the real relay's wss listener and the client's bridge.

The relay is driven by a hand-made WebSocket client (wsproto for the upgrade,
``wsframe`` for the frames), the client's bridge by a hand-made TLS WebSocket
server on loopback: pings are answered, fragmented messages arrive whole and in
order with control frames between their fragments, a broken frame closes with
1002, and the idle buffers stay small.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

from zvkdiag.relay.wss import IDLE_READ, WssConn
from zvkdiag.testing.fakes import RelayThread
from zvkdiag.testing.tls import ThrowawayCA
from zvkdiag.transport import wsframe
from zvkdiag.transport.address import WSS_PATH, Route
from zvkdiag.transport.tls import client_context
from zvkdiag.transport.wsclient import SUBPROTOCOL, _WsSide, open_wss
from zvkdiag.transport.wsframe import Control, Data, Decoder, Opcode, encode
from zvkdiag.wire import handshake

from .conftest import NAME

TIMEOUT = 20.0


class _Peer:
    """One end of a WebSocket over TLS, written by hand: sends frames, collects events."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, client: bool):
        self.reader, self.writer, self.client = reader, writer, client
        self.decoder = Decoder(masked=not client)
        self.events: list[wsframe.Event] = []

    def send(self, opcode: Opcode, payload: bytes = b"", *, fin: bool = True) -> None:
        self.writer.write(encode(opcode, payload, masked=self.client, fin=fin))

    async def read_until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not done():
                data = await self.reader.read(1 << 16)
                if not data:
                    return
                self.events += self.decoder.feed(data)

    def controls(self) -> list[Control]:
        return [e for e in self.events if isinstance(e, Control)]

    def data(self) -> bytes:
        return b"".join(bytes(e.payload) for e in self.events if isinstance(e, Data))


async def _customer(port: int) -> _Peer:
    """A wss customer by hand: upgrade, then ``ZVK1 OFFER`` in a binary frame."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(), server_hostname=NAME
    )
    ws = WSConnection(ConnectionType.CLIENT)
    writer.write(ws.send(Request(host=NAME, target=WSS_PATH, subprotocols=[SUBPROTOCOL])))
    ws.receive_data(await reader.readuntil(b"\r\n\r\n"))
    assert any(isinstance(e, AcceptConnection) for e in ws.events())
    peer = _Peer(reader, writer, client=True)
    peer.send(Opcode.BINARY, handshake.format_offer(None, None))
    await peer.read_until(lambda: peer.data().endswith(b"\n"))
    return peer


def _raw_engineer(address: str, sid: str) -> socket.socket:
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    sock.sendall(handshake.format_connect(sid))
    assert sock.recv(len(handshake.PAIRED)) == handshake.PAIRED
    return sock


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    got = bytearray()
    while len(got) < n and (chunk := sock.recv(n - len(got))):
        got += chunk
    return bytes(got)


def test_the_relay_answers_pings_and_forwards_fragmented_messages_whole(
    wss_relay: RelayThread,
) -> None:
    async def main() -> None:
        customer = await _customer(wss_relay.wss_port)
        sid = handshake.parse_reply(customer.data()).session_id
        assert sid
        engineer = await asyncio.to_thread(_raw_engineer, wss_relay.address, sid)
        customer.events.clear()
        await customer.read_until(lambda: customer.data() == handshake.PAIRED)
        customer.send(Opcode.BINARY, b"abc", fin=False)
        customer.send(Opcode.PING, b"hallo")
        customer.send(Opcode.CONTINUATION, b"def", fin=False)
        customer.send(Opcode.CONTINUATION, b"x" * 70_000, fin=True)  # a 64-bit length
        customer.send(Opcode.BINARY, b"")  # an empty message carries nothing
        got = await asyncio.to_thread(_recv_exactly, engineer, 70_006)
        assert got == b"abcdef" + b"x" * 70_000
        await customer.read_until(lambda: bool(customer.controls()))
        assert customer.controls() == [Control(Opcode.PONG, b"hallo")]
        engineer.sendall(b"down" * 50_000)  # more than one frame's worth comes back in order
        customer.events.clear()
        await customer.read_until(lambda: len(customer.data()) >= 200_000)
        assert customer.data() == b"down" * 50_000
        engineer.close()
        customer.writer.close()

    asyncio.run(main())


def test_the_relay_closes_an_unmasked_client_frame_with_1002(wss_relay: RelayThread) -> None:
    async def main() -> None:
        customer = await _customer(wss_relay.wss_port)
        customer.events.clear()
        customer.writer.write(encode(Opcode.BINARY, b"plain", masked=False))
        await customer.read_until(lambda: bool(customer.controls()))
        close = customer.controls()[0]
        assert close.opcode is Opcode.CLOSE
        assert wsframe.parse_close(close.payload).code == 1002
        assert await customer.reader.read() == b""
        customer.writer.close()

    asyncio.run(main())


Handler = Callable[[_Peer], Awaitable[None]]


async def _server(ca: ThrowawayCA, handler: Handler) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        ws.receive_data(await reader.readuntil(b"\r\n\r\n"))
        assert any(isinstance(e, Request) for e in ws.events())
        writer.write(ws.send(AcceptConnection(subprotocol=SUBPROTOCOL)))
        await handler(_Peer(reader, writer, client=False))

    return await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ca.server_context())


def test_the_client_bridge_answers_pings_and_takes_fragments_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = ThrowawayCA(tmp_path, "127.0.0.1")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))
    seen: asyncio.Queue[list[wsframe.Event]] = asyncio.Queue()

    async def relay(peer: _Peer) -> None:
        peer.send(Opcode.BINARY, b"one ", fin=False)
        peer.send(Opcode.PING, b"bist du da")
        peer.send(Opcode.CONTINUATION, b"two " * 40_000, fin=False)
        peer.send(Opcode.PONG, b"unasked")  # an unasked pong is ignored
        peer.send(Opcode.CONTINUATION, b"three", fin=True)
        await peer.read_until(lambda: len(peer.data()) >= 5)  # the client's frames are masked
        peer.send(Opcode.CLOSE, struct.pack(">H", 1001))
        await peer.read_until(lambda: len(peer.controls()) >= 2)
        await seen.put(peer.events)
        peer.writer.close()

    async def main() -> None:
        server = await _server(ca, relay)
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        sock = await open_wss(Route("wss", "127.0.0.1", port), client_context())
        want = b"one " + b"two " * 40_000 + b"three"
        got = bytearray()
        async with asyncio.timeout(TIMEOUT):
            while len(got) < len(want):
                got += await loop.sock_recv(sock, 1 << 16)
            assert got == want
            await loop.sock_sendall(sock, b"hello")
            events = await seen.get()
            assert await loop.sock_recv(sock, 1) == b""  # the relay's close reached our end
        controls = [e for e in events if isinstance(e, Control)]
        assert controls[0] == Control(Opcode.PONG, b"bist du da")
        assert controls[1].opcode is Opcode.CLOSE
        assert wsframe.parse_close(controls[1].payload).code == 1001  # the code echoed
        assert b"".join(bytes(e.payload) for e in events if isinstance(e, Data)) == b"hello"
        sock.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_the_tls_layers_decrypt_into_our_buffers() -> None:
    """asyncio's TLS protocol reads into a buffered protocol's buffer, record after record;
    any other protocol gets a fresh bytes of 256 KiB per 16 KiB record (3.5x the decryption)."""
    assert issubclass(_WsSide, asyncio.BufferedProtocol)
    assert issubclass(WssConn, asyncio.BufferedProtocol)


def test_an_idle_wss_connection_holds_no_read_buffer(wss_relay: RelayThread) -> None:
    """Until a read fills it, the buffer is given back; then it grows and is kept."""
    conn = WssConn(wss_relay.relay)
    conn.ws, conn.closing = None, True  # past the upgrade, and closed: the bytes are dropped
    sizes = []
    for n in (100, IDLE_READ, 100, 100):
        conn.get_buffer(-1)[:n] = b"\x00" * n
        conn.buffer_updated(n)
        sizes.append(None if conn.buffer is None else len(conn.buffer))
    assert sizes == [None, None, 4 * IDLE_READ, 4 * IDLE_READ]
