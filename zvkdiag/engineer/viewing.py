"""The screen view on the engineer's side: monitors, screenshots, frames and the widget."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import asyncssh
from PIL import Image

from zvkdiag._errors import ProtocolError, ZvkdiagError
from zvkdiag.screen import MAX_FRAME_BYTES, ReceivedFrame, ScreenReceiver
from zvkdiag.screen.frames import VERSION_COMPACT
from zvkdiag.wire.messages import read_message, write_message

if TYPE_CHECKING:
    from zvkdiag.engineer.session import OpChannel, Session
    from zvkdiag.widgets.screen import ScreenView

__all__ = ["frames", "measure_rtt", "monitors", "open_view", "screenshot"]

RTT_INTERVAL: Final = 2.0  # seconds between two round-trip measurements of a live view
PING_BYTES: Final = 8


def _pipes(
    chan: OpChannel,
) -> tuple[Callable[[], Awaitable[bytes | None]], Callable[[bytes], Awaitable[None]]]:
    async def read() -> bytes | None:
        return await read_message(chan.reader, MAX_FRAME_BYTES)

    async def write(blob: bytes) -> None:
        await write_message(chan.writer, blob)

    return read, write


async def monitors(session: Session) -> list[dict[str, Any]]:
    chan = await session.open_op("screen.monitors")
    chan.close()
    return list(chan.header.get("monitors", []))


async def screenshot(session: Session, monitor: int) -> Image.Image:
    chan = await session.open_op("screen", monitor=monitor, frame_version=VERSION_COMPACT)
    try:
        image: Image.Image = await session._guarded(ScreenReceiver().screenshot(*_pipes(chan)))
        return image
    finally:
        chan.close()


async def frames(session: Session, monitor: int) -> AsyncIterator[ReceivedFrame]:
    """Frames as they are applied (acknowledged when the caller asks for the next)."""
    chan = await session.open_op("screen", monitor=monitor, frame_version=VERSION_COMPACT)
    try:
        async for got in ScreenReceiver().frames(*_pipes(chan)):
            yield got
    finally:
        chan.close()


async def open_view(session: Session, monitor: int, view: ScreenView) -> None:
    """Feed ``view`` until the stream ends (run as a task on the session's loop)."""
    chan = await session.open_op("screen", monitor=monitor, frame_version=VERSION_COMPACT)
    receiver = ScreenReceiver()
    view.connect(receiver)
    rtt = asyncio.ensure_future(measure_rtt(session, view.show_rtt))
    try:
        await receiver.run(*_pipes(chan))
    finally:
        rtt.cancel()
        chan.close()


async def measure_rtt(session: Session, report: Callable[[float], None]) -> None:
    """Time an echo to the customer's agent and back, on this computer's clock only.

    Reports seconds every ``RTT_INTERVAL`` until cancelled; an agent without the
    ``ping`` op, or a session going down, just ends the measurements.
    """
    try:
        chan = await session.open_quiet_op("ping")
    except ZvkdiagError:
        return
    try:
        while True:
            token = os.urandom(PING_BYTES)
            started = time.monotonic()
            chan.writer.write(token)
            if await chan.reader.readexactly(PING_BYTES) != token:
                raise ProtocolError("the round-trip echo came back changed")
            report(time.monotonic() - started)
            await asyncio.sleep(RTT_INTERVAL)
    except (asyncssh.Error, OSError, asyncio.IncompleteReadError, ProtocolError):
        return
    finally:
        chan.close()
