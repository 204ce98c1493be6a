"""Raw handshake clients for the relay tests (real sockets on loopback, no zvkdiag client code)."""

from __future__ import annotations

import socket
import ssl

from zvkdiag.wire import handshake


def dial(
    address: str, source: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None
) -> socket.socket:
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0))
    if tls is not None:
        return tls.wrap_socket(sock, server_hostname="localhost")
    return sock


def line(sock: socket.socket) -> handshake.Reply:
    buf = b""
    while not buf.endswith(b"\n"):
        ch = sock.recv(1)
        if not ch:
            raise ConnectionError(f"closed after {buf!r}")
        buf += ch
    return handshake.parse_reply(buf)


def offer(
    address: str, source: str = "127.0.0.1", **kw: ssl.SSLContext
) -> tuple[socket.socket, str]:
    sock = dial(address, source, **kw)
    sock.sendall(handshake.format_offer())
    reply = line(sock)
    assert reply.kind == "id" and reply.session_id, reply
    return sock, reply.session_id


def connect(
    address: str, sid: str, source: str = "127.0.0.1", **kw: ssl.SSLContext
) -> tuple[socket.socket, handshake.Reply]:
    sock = dial(address, source, **kw)
    sock.sendall(handshake.format_connect(sid))
    return sock, line(sock)


def pair(
    address: str, source: str = "127.0.0.1", **kw: ssl.SSLContext
) -> tuple[socket.socket, socket.socket, str]:
    """(customer, engineer, id), both having read PAIRED."""
    cust, sid = offer(address, source, **kw)
    eng, reply = connect(address, sid, source, **kw)
    assert reply.kind == "paired", reply
    assert line(cust).kind == "paired"
    return cust, eng, sid


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)
