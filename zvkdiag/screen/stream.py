"""Customer side: capture → tiles → encode, gated by flow control.

``ScreenStreamer.frames()`` yields encoded frames (``bytes``, one wire
message each) no faster than the viewer acknowledges them: with the window
full it does not capture at all.  Capture and encoding run in one worker
thread (the mss handle belongs to it), never on the event loop.

Wiring into an agent op handler (the lead's framing helpers)::

    streamer = ScreenStreamer(monitor=params.get("monitor", 0))
    await serve_screen(
        streamer,
        read=lambda: read_message(ctx.stdin, MAX_CONTROL_BYTES),
        write=lambda blob: write_message(ctx.stdout, blob),
    )

``serve_screen`` returns when the viewer closes its side (``read`` raises
EOF) or ``streamer.stop()`` is called (the customer pressed "Beenden").

When to grab: the event loop watches the X DAMAGE socket, so something drawn
is grabbed at once, not at the next poll tick: at most ``max_fps`` grabs a
second on average, but a second grab may follow the first without waiting
(``pacing``), so a drawing made in two bursts is not held back a whole grab
period.  The ticks (``poll_fps``, by default ``max_fps``) remain for what
DAMAGE does not report, the mouse pointer, and as the safety net of a full
grab every ``FULL_POLL`` seconds, widening to ``FULL_POLL_LONGEST`` while
DAMAGE proves right (``pacing.FullPoll``); after ``IDLE_AFTER`` seconds
without a frame they slow to ``IDLE_POLL`` (the first pointer move after a
pause shows up to 67 ms late, everything after it at full rate).  Where the
DAMAGE connection also reports pointer motion and image changes (``pointer``),
a moving mouse wakes the stream itself and the ticks, at ``pointer.WARP_POLL``,
only look for a pointer that a program warped.

While nothing is drawn and the pointer stays, the worker thread ticks by
itself (``_idle``): it sleeps in ``select`` on the DAMAGE socket and a wake-up
pipe and checks the pointer each tick, instead of going back to the event
loop 60 times a second.  That round trip through the executor and asyncio
cost ~10x the pointer check itself (~0.6 ms of CPU a tick against ~40 us).
A drawing it grabs at once when the grab budget allows; otherwise, and on
stop, pause or a keyframe request (the pipe), and when flow control has a
deadline to enforce, it hands back to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from zvkdiag.screen.adapt import Decision, LineAdapter, split_tiles
from zvkdiag.screen.capture import Capturer, Grabber
from zvkdiag.screen.desktop import CHECK_EVERY, Desktop, DesktopWatch
from zvkdiag.screen.encoder import EncoderPolicy, FrameEncoder
from zvkdiag.screen.flow import FlowControl
from zvkdiag.screen.frames import VERSION, ControlKind, Frame, FrameWriter, Tile, decode_control
from zvkdiag.screen.pacing import FullPoll, GrabBudget
from zvkdiag.screen.pointer import WARP_POLL
from zvkdiag.screen.tiles import Rect

__all__ = [
    "FULL_POLL",
    "FULL_POLL_LONGEST",
    "MAX_FPS",
    "CaptureSource",
    "Reader",
    "ScreenStreamer",
    "StreamStats",
    "Writer",
    "poll_period",
    "serve_screen",
]

MAX_FPS: Final = 60.0  # grabs per second at most
FULL_POLL: Final = 5.0  # grab the whole screen this often at first, whatever X DAMAGE says
FULL_POLL_LONGEST: Final = 30.0  # ... and at least this often where DAMAGE never missed a change
IDLE_AFTER: Final = 2.0  # seconds without a frame: the screen is idle
IDLE_POLL: Final = 1 / 15  # the pointer poll's period while idle (DAMAGE still wakes at once)

Pixels = npt.NDArray[np.uint8]
CaptureSource = Callable[[], Grabber]
Produced = tuple[list[Tile], tuple[int, int], float, bool, bool]
"""tiles, (h, w), captured_at, keyframe, secure desktop (a notice without tiles)"""
END_OF_STREAM: Final = (EOFError, asyncio.IncompleteReadError, ConnectionError)
Reader = Callable[[], Awaitable[bytes | None]]  # one message; None (or EOF errors) ends
Writer = Callable[[bytes], Awaitable[None]]  # one message, waiting for backpressure


@dataclass
class StreamStats:
    """Counters of one stream (read them on the streamer's loop)."""

    frames: int = 0
    bytes: int = 0
    keyframes: int = 0
    captures: int = 0
    ack_timeouts: int = 0
    turns: int = 0  # hand-overs from the event loop to the capture worker


def poll_period(poll: float, since_frame: float) -> float:
    """Seconds to the next poll tick: ``poll``, or at least ``IDLE_POLL`` on an idle screen."""
    return max(poll, IDLE_POLL) if since_frame >= IDLE_AFTER else poll


class ScreenStreamer:
    """Produces encoded screen frames under flow control.

    Parameters
    ----------
    monitor
        Index into ``list_monitors()`` (0: all monitors together).
    display
        X display; None uses ``$DISPLAY``.
    max_fps
        Upper bound on grabs per second.
    poll_fps
        Turns per second without a DAMAGE wake-up (the pointer, displays
        without DAMAGE); defaults to ``max_fps``.
    flow
        The flow-control machine (tests inject one with short timeouts).
    adapt
        The line model that bounds unacknowledged bytes and picks JPEG
        quality and refinement (``zvkdiag.screen.adapt``).
    capture
        Factory for the capturer, called in the worker thread.
    desktop
        Which desktop the customer sees (``zvkdiag.screen.desktop``): while it
        is Windows' secure desktop, one notice frame instead of pictures.
    clock
        Monotonic seconds, for pacing, flow control and refinement.
    frame_version
        The wire version the viewer asked for (``frames.VERSIONS``; v2 is
        the compact header).
    """

    def __init__(
        self,
        monitor: int = 0,
        *,
        display: str | None = None,
        max_fps: float = MAX_FPS,
        poll_fps: float | None = None,
        policy: EncoderPolicy | None = None,
        flow: FlowControl | None = None,
        adapt: LineAdapter | None = None,
        capture: CaptureSource | None = None,
        desktop: DesktopWatch | None = None,
        clock: Callable[[], float] = time.monotonic,
        frame_version: int = VERSION,
    ) -> None:
        self._writer = FrameWriter(frame_version)
        self._desktop = desktop or DesktopWatch()
        self._away = False  # the secure desktop was announced; a keyframe follows its end
        self._shape: tuple[int, int] | None = None
        self._capture_source = capture or (lambda: Capturer(monitor, display=display))
        self._capturer: Grabber | None = None
        self._policy = policy or EncoderPolicy()
        self._encoder = FrameEncoder(self._policy)
        self.flow = flow or FlowControl()
        self.adapt = adapt or LineAdapter()
        self._split_over: int | None = None
        self._decided: Decision | None = None  # what ``_adapt_encoder`` last applied
        self._budget = GrabBudget(max_fps)
        self._poll = 1.0 / (poll_fps or max_fps)
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zvk-capture")
        self._wake: asyncio.Future[None] | None = None
        self._interrupt_r = self._interrupt_w = -1  # a pipe while frames() runs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_tick = 0.0
        self._paused = False
        self._stopped = False
        self._running = False
        self._last_grab = -FULL_POLL
        self.full_poll = FullPoll(FULL_POLL, FULL_POLL_LONGEST)
        self._looked_quiet = False  # the last look before a grab: DAMAGE said nothing was drawn
        self._last_frame = 0.0
        self._damage_fd: int | None = None
        self._damaged = False
        self.stats = StreamStats()

    # -- control, called on the streamer's event loop ------------------------------------

    def on_ack(self, seq: int) -> None:
        """The viewer has drawn every frame up to ``seq``."""
        self.adapt.acked(seq, self._clock())
        if self.flow.acked(seq):
            self._poke()

    def on_control(self, blob: bytes) -> None:
        """Apply one control message from the viewer (raises ProtocolError if malformed)."""
        control = decode_control(blob)
        if control.kind is ControlKind.ACK:
            self.on_ack(control.value)
        elif control.kind is ControlKind.PAUSE:
            self.pause()
        elif control.kind is ControlKind.RESUME:
            self.resume()
        else:
            self.flow.request_keyframe()
            self._interrupt()
            self._poke()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        self._interrupt()

    def resume(self) -> None:
        self._paused = False
        self._poke()

    def stop(self) -> None:
        """Stop capturing now: no grab starts after this; ``frames()`` ends at its next step.

        Safe to call from any thread and more than once.
        """
        if self._stopped:
            return
        self._stopped = True
        self._interrupt()
        self._poke()
        if not self._running:
            self._release()

    # -- the producer -------------------------------------------------------------------

    async def frames(self) -> AsyncIterator[bytes]:
        """Encoded frames, one wire message each, as fast as the viewer takes them."""
        self._loop = loop = asyncio.get_running_loop()
        if sys.platform != "win32":  # only X DAMAGE's select() waits on it; Windows has no such fd
            self._interrupt_r, self._interrupt_w = os.pipe()
            os.set_blocking(self._interrupt_w, False)
        self._running = True
        self._last_frame = self._clock()  # a new viewer: poll at full rate at first
        try:
            while await self._wait_turn():
                keyframe = self.flow.needs_keyframe
                until = self.flow.deadline()
                self.stats.turns += 1
                self._adapt_encoder()
                self._unwatch_damage()  # the worker's own select() watches it meanwhile
                produced = await loop.run_in_executor(
                    self._executor, self._produce, keyframe, until
                )
                self._watch_damage()
                if produced is None or self._stopped:
                    continue
                for blob in self._seal(*produced, asked_keyframe=keyframe):
                    self._last_frame = self._clock()
                    yield blob
        finally:
            self._stopped = True
            self._interrupt()
            self._running = False
            self._unwatch_damage()
            await loop.run_in_executor(self._executor, self._release)

    def _watch_damage(self) -> None:
        """(Re-)arm the one-shot wake-up on the X DAMAGE socket, after the worker drained it."""
        capturer = self._capturer
        if self._stopped or self._loop is None or not isinstance(capturer, Capturer):
            return
        if capturer.damage_pending:
            self._damaged = True
            return
        if self._damage_fd is None:
            fd = capturer.damage_fd
            if fd is None or fd < 0:
                return
            self._damage_fd = fd
        self._loop.add_reader(self._damage_fd, self._on_damage)

    def _on_damage(self) -> None:
        """Something was drawn: take the next turn as soon as ``max_fps`` allows.

        One-shot: the worker thread reads the event (``Capturer.quiet``), so
        the socket stays readable until then; ``_watch_damage`` re-arms.
        """
        self._unwatch_damage()
        self._damaged = True
        self._poke()

    def _unwatch_damage(self) -> None:
        if self._damage_fd is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._damage_fd)

    def _release(self) -> None:
        """Close the capturer (in the worker thread when streaming) and the worker."""
        capturer, self._capturer = self._capturer, None
        if capturer is not None:
            capturer.close()
        self._executor.shutdown(wait=False)
        pipe = (self._interrupt_r, self._interrupt_w)
        self._interrupt_r = self._interrupt_w = -1
        for fd in pipe:
            if fd >= 0:
                os.close(fd)

    def _seal(
        self,
        tiles: list[Tile],
        shape: tuple[int, int],
        captured_at: float,
        keyframe: bool,
        secure_desktop: bool = False,
        *,
        asked_keyframe: bool,
    ) -> list[bytes]:
        """Give the frame its seq, unless the window timed out meanwhile (then: keyframe).

        A frame of big JPEG tiles and small exact ones leaves as two, the
        small ones first (``split_tiles``).
        """
        if self.flow.needs_keyframe and not asked_keyframe:
            return []  # the next turn captures a keyframe
        self.stats.ack_timeouts = self.flow.timeouts
        parts = [tiles] if keyframe or secure_desktop else split_tiles(tiles, self._split_over)
        blobs = []
        for i, part in enumerate(parts):
            now = self._clock()
            frame = Frame(
                self.flow.next_seq,
                shape[1],
                shape[0],
                captured_at,
                keyframe,
                tuple(part),
                secure_desktop=secure_desktop,
            )
            blob = self._writer.encode(frame)
            allowance = self.adapt.line_time(len(blob))
            seq = self.flow.sent(now, continued=i > 0, allowance=allowance)
            self.adapt.sent(seq, len(blob), now, continued=i > 0)
            self.stats.frames += 1
            self.stats.bytes += len(blob)
            blobs.append(blob)
        self.stats.keyframes += keyframe
        return blobs

    def _produce(self, keyframe: bool, until: float | None = None) -> Produced | None:
        """Worker thread: grab, diff, encode.  None when nothing needs sending.

        While nothing is new it ticks here (``_idle``) until ``until`` (clock
        seconds; None: until the next full poll) or a reason to hand back.
        """
        if self._stopped:
            return None
        if self._capturer is None:
            self._capturer = self._capture_source()
        if self._shape is not None and self._desktop.state() is Desktop.SECURE:
            return self._announce_secure_desktop()
        if self._away:  # back from the secure desktop: a fresh picture
            self._away, keyframe = False, True
        while self._nothing_new() and not keyframe:  # in this order: quiet() clears the damage
            if not self._idle(until):
                return None
        self._last_grab = self._clock()
        self._budget.spend(self._last_grab)
        full = keyframe or self.full_poll.due(self._last_grab)
        captured_at = time.time()
        pixels, areas = self._grab(full)
        self._shape = (pixels.shape[0], pixels.shape[1])
        self.stats.captures += 1
        moves = self._capturer.moves if isinstance(self._capturer, Capturer) else []
        tiles = self._encoder.encode(
            pixels, now=self._clock(), keyframe=keyframe, areas=areas, moves=moves
        )
        if full:
            self.full_poll.done(self._last_grab, missed=None if keyframe else self._missed(tiles))
        if not tiles:
            return None
        return (tiles, self._shape, captured_at, self._encoder.last_was_keyframe, False)

    def _announce_secure_desktop(self) -> Produced | None:
        """Worker thread: one notice when the secure desktop comes, then a look now and then."""
        if self._away:
            time.sleep(CHECK_EVERY)  # nothing to grab there: the picture would be black
            return None
        self._away = True
        assert self._shape is not None
        return [], self._shape, time.time(), False, True

    def _grab(self, full: bool) -> tuple[Pixels, list[Rect] | None]:
        """The screen, and the parts that can have changed (None: all of it)."""
        capturer = self._capturer
        assert capturer is not None
        if isinstance(capturer, Capturer):
            return capturer.grab_changed(full=full)
        return capturer.grab(), None

    def _nothing_new(self) -> bool:
        """Skip the grab: X DAMAGE saw no drawing, the pointer stayed, nothing to refine.

        Saves the grab and the diff (~4 ms a turn) on a still screen; a full
        poll (``full_poll``) stays as a safety net.
        """
        capturer = self._capturer
        self._looked_quiet = False
        if not isinstance(capturer, Capturer):
            return False
        quiet = capturer.quiet()  # always: it clears the damage, so new drawing wakes us
        self._looked_quiet = quiet and not self._encoder.lossy_tiles
        if self._encoder.lossy_tiles or self.full_poll.due(self._clock()):
            return False
        return quiet

    def _missed(self, tiles: list[Tile]) -> bool | None:
        """After a full grab: whether it found a change X DAMAGE had not reported.

        Only a grab right after a quiet look can tell (nothing drawn, nothing to
        refine); a drawing DAMAGE reported since that look makes it None too:
        its change may be among ``tiles``.
        """
        capturer = self._capturer
        if not self._looked_quiet or not isinstance(capturer, Capturer):
            return None
        if capturer.drawn_since_look():
            return None
        return bool(tiles)

    def _idle(self, until: float | None) -> bool:
        """Worker thread: sleep one pointer tick or until something is drawn.

        True: look again (and grab if there is news).  False: hand back to the
        loop, on ``_interrupt()``, at ``until``, and on a drawing that
        ``max_fps`` does not allow to grab yet (the loop's DAMAGE wake-up then
        paces it).  Meanwhile the loop does not watch the DAMAGE socket: each
        drawing would wake both threads, the loop for nothing (a cold wake-up
        per typed key, docs/screen.md).  A drawing seen here is noted in
        ``_damaged``, as the loop's watch would have.
        """
        capturer = self._capturer
        if not isinstance(capturer, Capturer) or self._stopped or self._paused:
            return False
        fd = capturer.damage_fd
        if fd is None or fd < 0 or capturer.damage_pending:
            return False
        now = self._clock()
        tick = poll_period(self._poll, now - self._last_frame)
        if capturer.pointer_events:  # a moving mouse wakes us itself; ticks are for warps
            tick = max(tick, WARP_POLL)
        if until is not None:
            if now >= until:
                return False
            tick = min(tick, until - now)
        try:
            ready, _, _ = select.select([fd, self._interrupt_r], [], [], tick)
        except (OSError, ValueError):  # closed meanwhile: the loop finds out why
            return False
        if self._interrupt_r in ready:
            with contextlib.suppress(OSError):
                os.read(self._interrupt_r, 4096)
            return False
        if self._stopped or self._paused:
            return False
        if fd not in ready:
            return True
        self._damaged = True  # as the loop's own watch would have noted: a drawing is due
        now = self._clock()
        return self._budget.ready_at(now) <= now

    def _interrupt(self) -> None:
        """End the worker's ``_idle`` now (any thread)."""
        if self._interrupt_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._interrupt_w, b"!")

    async def _wait_turn(self) -> bool:
        """Sleep until a frame may be captured; False once stopped."""
        while not self._stopped:
            now = self._clock()
            if not self._paused and self._may_send(now):
                due = self._next_tick
                if self._damaged:  # drawn since the last turn: go now, within max_fps
                    due = min(due, self._budget.ready_at(now))
                delay = due - now
                if delay <= 0:
                    self._damaged = False
                    self._next_tick = now + poll_period(self._poll, now - self._last_frame)
                    return True
            elif self._paused:
                delay = None
            else:
                deadline = self.flow.deadline()
                delay = None if deadline is None else max(0.0, deadline - now)
            await self._sleep(delay)
        return False

    def _may_send(self, now: float) -> bool:
        """Room in the frame window and in the line's byte budget (``adapt``)."""
        room = self.flow.may_send(now)
        if not self.flow.in_flight:  # acked, or given up after the ack timeout
            self.adapt.forget()
        return room and self.adapt.may_send()

    def _adapt_encoder(self) -> None:
        """The next frame's JPEG quality and refinement budget, as the line allows."""
        decided = self.adapt.decision()
        if decided == self._decided:  # the usual case: the encoder's policy stands
            return
        self._decided = decided
        self._split_over = decided.split_over
        self._encoder.policy = replace(
            self._policy,
            jpeg_quality=min(self._policy.jpeg_quality, decided.jpeg_quality),
            lossless_max=min(self._policy.lossless_max, decided.lossless_max),
            refine_budget=min(self._policy.refine_budget, decided.refine_budget),
        )

    async def _sleep(self, delay: float | None) -> None:
        """Until ``delay`` seconds passed (None: no limit) or ``_poke()``.

        A future and a timer: ``asyncio.wait_for`` made a task each time.
        """
        assert self._loop is not None
        self._wake = wake = self._loop.create_future()
        timer = None if delay is None else self._loop.call_later(delay, self._wake_up)
        try:
            await wake
        finally:
            self._wake = None
            if timer is not None:
                timer.cancel()

    def _wake_up(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _poke(self) -> None:
        """Wake ``_wait_turn``; safe from other threads (the customer's window ends a session)."""
        if self._loop is None:
            return
        try:
            same_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            self._wake_up()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake_up)


async def serve_screen(streamer: ScreenStreamer, *, read: Reader, write: Writer) -> None:
    """Send frames with ``write`` and feed controls from ``read`` until either side ends.

    ``read`` returns one control message (framed by the transport), or None
    (or raises ``EOFError``, ``asyncio.IncompleteReadError``,
    ``ConnectionError``) when the viewer is gone; ``write`` sends one frame
    and waits for the transport's backpressure (``drain``).  Both match
    ``zvkdiag.wire.messages.read_message`` / ``write_message``.
    """

    async def pump_controls() -> None:
        try:
            while (blob := await read()) is not None:
                streamer.on_control(blob)
        except END_OF_STREAM:
            pass
        finally:
            streamer.stop()

    controls = asyncio.create_task(pump_controls())
    try:
        async for blob in streamer.frames():
            await write(blob)
    finally:
        streamer.stop()
        controls.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await controls  # re-raises a ProtocolError from a malformed control
