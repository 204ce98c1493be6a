"""The engineer's remote control: ``Session.control()`` returns a ``Control``.

Every method validates before anything is sent (``ValueError`` naming the bad
value: a position outside the monitor, an unknown key name, too much text), so
a mistake in a playbook injects nothing.  A heartbeat keeps the customer's
agent from letting go while the engineer is merely thinking; if this process
dies, the agent releases every key and button within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from zvkdiag._errors import ConsentDenied, ProtocolError, SessionClosed
from zvkdiag.control.events import (
    MAX_TEXT,
    Button,
    Heartbeat,
    InputEvent,
    KeySym,
    Move,
    ReleaseAll,
    Text,
    Wheel,
    encode_batch,
)
from zvkdiag.control.gate import HEARTBEAT_INTERVAL
from zvkdiag.control.keys import parse_combo
from zvkdiag.wire.messages import read_message, write_message

if TYPE_CHECKING:
    from zvkdiag.engineer.channel import OpChannel
    from zvkdiag.engineer.session import Session

__all__ = ["MAX_TYPE_TEXT", "Control", "open_control"]

MAX_TYPE_TEXT: Final = 64 * 1024
"""Characters one ``type_text`` call may type."""
MAX_STATUS_BYTES: Final = 4096
RELEASE_WAIT: Final = 5.0
"""Seconds ``release`` waits for the agent to confirm it has let go."""
DRAG_STEPS: Final = 12
STEP_PAUSE: Final = 0.015
"""Seconds between the steps of a drag, so programs (and the customer) see it move."""
END_WAIT: Final = 1.0
"""Seconds a refused write waits for the status reader to tell a revoke from a broken session."""
BUTTONS: Final = {"left": 1, "middle": 2, "right": 3}


class Control:
    """Mouse and keyboard on the customer's screen (pixels of the viewed monitor).

    Use it as a context manager; leaving the block (or ``release()``) lets go of
    every key and button and ends control.  ``paused`` is True while the
    customer uses their own mouse or keyboard (the agent drops input then).
    """

    def __init__(
        self, session: Session, chan: OpChannel, *, monitor: int, width: int, height: int
    ) -> None:
        self._session = session
        self._chan = chan
        self.monitor = monitor
        self.width = width
        self.height = height
        self.paused = False
        self.dropped = 0
        self.rejected: str | None = None
        self._ended: str | None = None
        self._released = False
        self._lock = asyncio.Lock()
        self._quiet = asyncio.Event()
        self._tasks = [
            asyncio.ensure_future(self._read_status()),
            asyncio.ensure_future(self._heartbeat()),
        ]
        session.controls.add(self)

    def __repr__(self) -> str:
        state = "ended" if self._ended else ("paused" if self.paused else "active")
        return f"<zvkdiag.Control monitor {self.monitor} {self.width}x{self.height} {state}>"

    @property
    def active(self) -> bool:
        return self._ended is None and not self._session.closed

    @property
    def ended(self) -> str | None:
        """Why control ended (for the engineer to read), or None while it lasts."""
        return self._ended

    # -- the channel -------------------------------------------------------------------------
    async def _read_status(self) -> None:
        try:
            while (blob := await read_message(self._chan.reader, MAX_STATUS_BYTES)) is not None:
                status = json.loads(blob)
                self.paused = bool(status.get("paused", self.paused))
                self.dropped = int(status.get("dropped", self.dropped))
                self.rejected = status.get("rejected", self.rejected)
        except (ProtocolError, ValueError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if self._ended is None:
                self._ended = "The customer ended remote control."

    async def _heartbeat(self) -> None:
        while self._ended is None:
            self._quiet.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), HEARTBEAT_INTERVAL)
                continue  # something else was sent: no heartbeat needed yet
            with contextlib.suppress(Exception):
                await self._write([Heartbeat()])

    def _check(self) -> None:
        self._session._check()
        if self._ended is not None:
            raise ConsentDenied(self._ended, scope="screen.control")

    async def _write(self, events: list[InputEvent]) -> None:
        async with self._lock:
            await write_message(self._chan.writer, encode_batch(events))
        self._quiet.set()

    async def asend(self, events: Sequence[InputEvent]) -> None:
        """Send one batch of already validated events (the widget's path)."""
        self._check()
        try:
            await self._session._guarded(self._write(list(events)))
        except SessionClosed:
            # The agent's close (the customer revoked) can refuse a write a loop pass
            # before the status reader has seen the end: let it, then say which it was.
            # (wait, not wait_for on a shield: a reader cancelled by release() must not
            # turn this into a CancelledError)
            await asyncio.wait([self._tasks[0]], timeout=END_WAIT)
            self._check()
            raise

    # -- validation ---------------------------------------------------------------------------
    def _at(self, x: int, y: int) -> Move:
        for name, value, limit in (("x", x, self.width), ("y", y, self.height)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
                raise ValueError(f"{name}={value!r} is outside the monitor (0..{limit - 1})")
        return Move(x, y)

    @staticmethod
    def _button(button: int | str) -> int:
        number = BUTTONS.get(button, button) if isinstance(button, str) else button
        if number not in (1, 2, 3):
            raise ValueError(f"button={button!r}: use 1/'left', 2/'middle' or 3/'right'")
        return number

    # -- async API ------------------------------------------------------------------------------
    async def amove(self, x: int, y: int) -> None:
        await self.asend([self._at(x, y)])

    async def aclick(self, x: int, y: int, *, button: int | str = 1, count: int = 1) -> None:
        b = self._button(button)
        events: list[InputEvent] = [self._at(x, y)]
        for _ in range(count):
            events += [Button(b, True), Button(b, False)]
        await self.asend(events)

    async def adrag(
        self, start: tuple[int, int], end: tuple[int, int], *, button: int | str = 1
    ) -> None:
        b = self._button(button)
        first, last = self._at(*start), self._at(*end)
        await self.asend([first, Button(b, True)])
        for i in range(1, DRAG_STEPS + 1):
            await asyncio.sleep(STEP_PAUSE)
            x = first.x + (last.x - first.x) * i // DRAG_STEPS
            y = first.y + (last.y - first.y) * i // DRAG_STEPS
            await self.asend([Move(x, y)])
        await self.asend([Button(b, False)])

    async def ascroll(self, dy: int, dx: int = 0, *, at: tuple[int, int] | None = None) -> None:
        events: list[InputEvent] = [] if at is None else [self._at(*at)]
        for name, value in (("dy", dy), ("dx", dx)):
            if not isinstance(value, int) or abs(value) > 50:
                raise ValueError(f"{name}={value!r}: whole notches, -50..50")
        await self.asend([*events, Wheel(dx, dy)])

    async def atype_text(self, text: str) -> None:
        if not isinstance(text, str) or len(text) > MAX_TYPE_TEXT:
            raise ValueError(f"type_text takes a str of at most {MAX_TYPE_TEXT} characters")
        bad = next((ch for ch in text if ord(ch) < 0x20 and ch not in "\n\t"), None)
        if bad is not None:
            raise ValueError(f"type_text cannot type the control character {bad!r}")
        for i in range(0, len(text), MAX_TEXT):
            await self.asend([Text(text[i : i + MAX_TEXT])])

    async def akey(self, combo: str) -> None:
        names = parse_combo(combo)
        downs: list[InputEvent] = [KeySym(n, True) for n in names]
        ups: list[InputEvent] = [KeySym(n, False) for n in reversed(names)]
        await self.asend(downs + ups)

    async def arelease(self) -> None:
        """Let go of everything and end control (idempotent).

        Returns once the agent has applied everything sent before and let go
        (bounded by ``RELEASE_WAIT``): text typed just before leaving a ``with``
        block is on the screen, not lost with a session closed right after.
        """
        if self._released:
            return
        self._released = True
        live = self._ended is None and not self._session.closed
        if self._ended is None:
            self._ended = "Remote control was released; call session.control() again."
        reader, heartbeat = self._tasks
        heartbeat.cancel()
        if live:
            with contextlib.suppress(Exception):
                await self._write([ReleaseAll()])
            self._chan.close()  # EOF: the agent applies what came before, lets go, ends
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), RELEASE_WAIT)
        reader.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._chan.close()
        self._session.controls.discard(self)

    # -- sync API ------------------------------------------------------------------------------
    def _sync(self, coro: Any) -> Any:
        return self._session.call(coro)

    def move(self, x: int, y: int) -> None:
        """Move the pointer to (x, y)."""
        self._sync(self.amove(x, y))

    def click(self, x: int, y: int, *, button: int | str = 1) -> None:
        """Click at (x, y): button 1/'left', 2/'middle', 3/'right'."""
        self._sync(self.aclick(x, y, button=button))

    def double_click(self, x: int, y: int, *, button: int | str = 1) -> None:
        self._sync(self.aclick(x, y, button=button, count=2))

    def drag(self, start: tuple[int, int], end: tuple[int, int], *, button: int | str = 1) -> None:
        """Press at ``start``, move in steps the customer can follow, release at ``end``."""
        self._sync(self.adrag(start, end, button=button))

    def scroll(self, dy: int, dx: int = 0, *, at: tuple[int, int] | None = None) -> None:
        """Turn the wheel by whole notches (dy < 0 scrolls up), optionally at a position."""
        self._sync(self.ascroll(dy, dx, at=at))

    def type_text(self, text: str) -> None:
        """Type any Unicode text through the customer's layout (a text path for the rest)."""
        self._sync(self.atype_text(text))

    def key(self, combo: str) -> None:
        """Press and release a key combination named as in xdotool: ``"ctrl+l"``, ``"Return"``."""
        self._sync(self.akey(combo))

    def release(self) -> None:
        """Let go of every key and button and end control."""
        if not self._session._lt.loop.is_closed():
            self._sync(self.arelease())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._session._lt.acall(self.arelease())


async def open_control(session: Session, monitor: int) -> Control:
    """Ask for ``screen.control`` (once per session) and open the input channel."""
    chan = await session.open_op("screen.control", monitor=monitor)
    header = chan.header
    return Control(
        session,
        chan,
        monitor=monitor,
        width=int(header.get("width", 0)),
        height=int(header.get("height", 0)),
    )
