"""Framed messages on an SSH channel: 4-byte big-endian length, then the payload.

Used by every op whose payload is a sequence of messages (screen frames, probe
results).  Each reader names its own maximum, so a peer cannot make us buffer
more than that.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Final, Protocol

from zvkdiag._errors import ProtocolError

__all__ = ["LENGTH", "read_message", "write_message"]

LENGTH: Final = struct.Struct(">I")


class ByteReader(Protocol):
    async def readexactly(self, n: int) -> bytes: ...


class ByteWriter(Protocol):
    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


async def write_message(writer: ByteWriter, payload: bytes) -> None:
    """Write one message and wait for the channel's window (backpressure)."""
    writer.write(LENGTH.pack(len(payload)) + payload)
    await writer.drain()


async def read_message(reader: ByteReader, max_size: int) -> bytes | None:
    """Read one message; None at a clean end of stream, ProtocolError if too big or cut."""
    try:
        head = await reader.readexactly(LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ProtocolError("the stream ended inside a message header") from exc
    (size,) = LENGTH.unpack(head)
    if size > max_size:
        raise ProtocolError(f"message of {size} bytes exceeds the limit of {max_size}")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError("the stream ended inside a message") from exc
