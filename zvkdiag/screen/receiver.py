"""Engineer side: read frames, keep the canvas, send acks and controls back.

Wiring into the engineer's Session (the lead's framing helpers)::

    receiver = ScreenReceiver()
    await receiver.run(
        read=lambda: read_message(chan_reader, MAX_FRAME_BYTES),
        write=lambda blob: write_message(chan_writer, blob),
    )

Two ways to consume a stream:

- headless (``s.frames()``, benchmarks): ``async for got in receiver.frames(read, write)``;
  each frame is acknowledged when the loop asks for the next one, so a slow
  consumer slows the customer's capture down.
- with a viewer (the notebook widget): ``receiver.sink = view`` and
  ``await receiver.run(read, write)``; the receiver hands each applied frame
  to ``sink.show`` and acknowledges only when the viewer calls
  ``acknowledge(seq)`` after drawing.  ``acknowledge``, ``set_paused``,
  ``request_refresh`` and ``snapshot`` may be called from any thread.

Acks waiting to be written are merged into one (cumulative) ack, so a burst
of browser acks costs one message upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from zvkdiag._errors import SessionClosed
from zvkdiag.screen.frames import VERSION, Control, ControlKind, Frame, FrameReader, encode_control
from zvkdiag.screen.reassemble import Canvas
from zvkdiag.screen.stream import END_OF_STREAM, Reader, Writer

__all__ = ["FrameSink", "ReceivedFrame", "ScreenReceiver"]


@dataclass(frozen=True, slots=True)
class ReceivedFrame:
    """One frame as it arrived: for stats and bench traces (``time.time()`` stamps)."""

    frame: Frame
    wire_bytes: int
    received_at: float
    applied_at: float

    def trace_update(self) -> list[Any]:
        """This frame as one ``updates`` entry of the bench trace format.

        ``[t_hdr, t_done, nbytes, [[x, y, w, h, enc], ...]]`` with ``time.time()``
        stamps (shared/bench/vnc/README.md); ``enc`` is the ``Encoding`` number.
        """
        rects = [[t.x, t.y, t.w, t.h, int(t.encoding)] for t in self.frame.tiles]
        return [self.received_at, self.applied_at, self.wire_bytes, rects]


class FrameSink(Protocol):
    """Something that shows frames (the widget); called on the receiver's loop."""

    def show(self, got: ReceivedFrame, canvas: Canvas) -> None: ...


class ScreenReceiver:
    """The viewer end of one screen stream."""

    def __init__(self, *, sink: FrameSink | None = None) -> None:
        self.canvas = Canvas()
        self._reader = FrameReader()  # the stream's frames, v1 or v2, in order
        self.sink = sink
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: asyncio.Queue[Control] | None = None
        self._closed = False

    # -- thread-safe calls from the viewer --------------------------------------------

    def acknowledge(self, seq: int) -> None:
        """Every frame up to ``seq`` has been drawn."""
        self._post(Control(ControlKind.ACK, seq))

    def set_paused(self, paused: bool) -> None:
        self._post(Control(ControlKind.PAUSE if paused else ControlKind.RESUME))

    def request_refresh(self) -> None:
        """Ask the customer side for a keyframe."""
        self._post(Control(ControlKind.REFRESH))

    def snapshot(self) -> Image.Image:
        """The current picture, lossless (exact once the screen has settled)."""
        return self.canvas.image()

    # -- consuming ----------------------------------------------------------------------

    async def frames(
        self,
        read: Reader,
        write: Writer,
    ) -> AsyncIterator[ReceivedFrame]:
        """Applied frames; each is acknowledged once the caller asks for the next."""
        async with self._controls(write):
            while (got := await self._next(read)) is not None:
                yield got
                self.acknowledge(got.frame.seq)

    async def screenshot(self, read: Reader, write: Writer) -> Image.Image:
        """Receive until the picture is settled (no JPEG left), then return it.

        Raises
        ------
        SessionClosed
            The stream ended before a settled picture arrived.
        """
        async for _ in self.frames(read, write):
            if self.canvas.settled:
                return self.canvas.image()
        raise SessionClosed("the screen view ended before a complete picture arrived")

    async def run(
        self,
        read: Reader,
        write: Writer,
    ) -> None:
        """Apply frames until the stream ends; the sink (if any) acknowledges."""
        async with self._controls(write):
            while (got := await self._next(read)) is not None:
                if self.sink is None:
                    self.acknowledge(got.frame.seq)
                else:
                    self.sink.show(got, self.canvas)

    async def _next(self, read: Reader) -> ReceivedFrame | None:
        try:
            blob = await read()
        except END_OF_STREAM:
            return None
        if blob is None:
            return None
        received_at = time.time()
        frame = self._reader.decode(blob)
        self.canvas.apply(frame)
        return ReceivedFrame(frame, len(blob), received_at, time.time())

    @contextlib.asynccontextmanager
    async def _controls(self, write: Writer) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        self._outbox = asyncio.Queue()
        sender = asyncio.create_task(self._send_controls(self._outbox, write))
        try:
            yield
        finally:
            self._closed = True
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, *END_OF_STREAM):
                await sender

    async def _send_controls(self, outbox: asyncio.Queue[Control], write: Writer) -> None:
        while True:
            control = await outbox.get()
            if control.kind is ControlKind.ACK:
                control = _merge_acks(control, outbox)
            await write(encode_control(control, version=self._reader.version or VERSION))

    def _post(self, control: Control) -> None:
        loop, outbox = self._loop, self._outbox
        if loop is None or outbox is None or self._closed or loop.is_closed():
            return  # not streaming (yet, or any more): nothing to tell
        try:
            same_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            outbox.put_nowait(control)
        else:
            loop.call_soon_threadsafe(outbox.put_nowait, control)


def _merge_acks(first: Control, outbox: asyncio.Queue[Control]) -> Control:
    """Fold acks already queued into one; other controls keep their place."""
    best = first.value
    others: list[Control] = []
    while not outbox.empty():
        queued = outbox.get_nowait()
        if queued.kind is ControlKind.ACK:
            best = max(best, queued.value)
        else:
            others.append(queued)
    for control in others:
        outbox.put_nowait(control)
    return Control(ControlKind.ACK, best)
