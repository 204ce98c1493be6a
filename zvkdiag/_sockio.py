"""Exact reads on a raw socket, for the handshake and the PAKE before SSH starts.

No buffered reader is used: after the last PAKE frame the very same socket is
handed to asyncssh, so we must never read a byte past what we asked for.
"""

from __future__ import annotations

import asyncio
import socket

from zvkdiag._errors import ProtocolError, SessionClosed
from zvkdiag.wire import frames

__all__ = ["recv_exactly", "recv_frame", "recv_line", "send_all"]


def _broken(exc: OSError) -> SessionClosed:
    return SessionClosed(f"The connection broke during the handshake: {exc.strerror or exc}.")


async def _recv(sock: socket.socket, n: int) -> bytes:
    try:
        return await asyncio.get_running_loop().sock_recv(sock, n)
    except OSError as exc:  # reset by the peer or the network: theirs, not ours
        raise _broken(exc) from exc


async def recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = await _recv(sock, n - len(buf))
        if not chunk:
            raise SessionClosed("The other side closed the connection during the handshake.")
        buf += chunk
    return bytes(buf)


async def recv_line(sock: socket.socket, max_len: int) -> bytes:
    """Read up to and including b"\\n", one byte at a time (lines are short)."""
    buf = bytearray()
    while len(buf) < max_len:
        ch = await _recv(sock, 1)
        if not ch:
            raise SessionClosed("The other side closed the connection during the handshake.")
        buf += ch
        if ch == b"\n":
            return bytes(buf)
    raise ProtocolError(f"handshake line longer than {max_len} bytes")


async def recv_frame(sock: socket.socket) -> tuple[frames.FrameType, bytes]:
    kind, length = frames.decode_header(await recv_exactly(sock, frames.HEADER))
    return kind, await recv_exactly(sock, length)


async def send_all(sock: socket.socket, data: bytes) -> None:
    try:
        await asyncio.get_running_loop().sock_sendall(sock, data)
    except OSError as exc:
        raise _broken(exc) from exc
