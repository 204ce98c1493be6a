"""A new carrier through the relay for a dropped session: ``ZVK1 RESUME``, then ``PAIRED``."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

from zvkdiag._errors import SessionClosed
from zvkdiag._sockio import recv_line, send_all
from zvkdiag.wire import handshake

__all__ = ["resume_via_relay"]


async def resume_via_relay(
    open_relay: Callable[[], Awaitable[socket.socket]], session_id: str, token: str, role: str
) -> socket.socket:
    """Open the relay again and wait there until the other side of the session is back."""
    sock = await open_relay()
    try:
        await send_all(sock, handshake.format_resume(session_id, token, role))
        reply = handshake.parse_reply(await recv_line(sock, handshake.MAX_LINE))
    except BaseException:
        sock.close()
        raise
    if reply.kind != "paired":
        sock.close()
        raise SessionClosed(f"the relay did not pair the resumption: {reply.reason}")
    return sock
