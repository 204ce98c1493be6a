"""Remote control from the screen widget: the browser's requests and input, run on the session loop.

The widget (``ScreenView``) does no network I/O.  It hands the browser's
messages to a ``ControlLink``, which validates each input batch on the
caller's thread (``parse_batch``: a bad batch is refused whole), queues it
(bounded: excess is dropped and counted, never replayed later) and sends it
through one ``Control`` on the session's own loop.  Every state change goes
back to the widget as a ``ControlState``.

States::

    off ──want──▶ asking ──allowed──▶ on ⇄ paused (the customer uses their own input)
                     └──refused──▶ denied      on/paused ──give back / revoked / lost──▶ off
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from zvkdiag._errors import ConsentDenied, ProtocolError, ZvkdiagError
from zvkdiag.control.events import InputEvent, parse_batch
from zvkdiag.engineer.loopthread import LoopStopped

if TYPE_CHECKING:
    from zvkdiag.engineer.controlling import Control
    from zvkdiag.engineer.session import Session

__all__ = ["MAX_QUEUED_BATCHES", "ControlLink", "ControlState"]

MAX_QUEUED_BATCHES: Final = 64
"""Input batches waiting for the channel; more are dropped (a flood, not a backlog)."""
POLL_INTERVAL: Final = 0.1
"""Seconds between looks at whether the customer took over or ended control."""
TEXTS: Final = {
    "off": "Keine Steuerung · not controlling",
    "asking": "Frage den Kunden … · asking the customer …",
    "on": "Sie steuern · you are controlling",
    "paused": "Kunde bedient selbst · customer is using their own input",
}


@dataclass(frozen=True)
class ControlState:
    """What the widget shows: ``state`` is off, asking, on, paused or denied."""

    state: str
    text: str


def _state(state: str, text: str | None = None) -> ControlState:
    return ControlState(state, text or TEXTS[state])


class ControlLink:
    """The screen widget's way to remote control (``Session.screen()`` makes one per view).

    ``want`` and ``send`` may be called from any thread (ipykernel's comm
    thread); the work runs on the session's loop.  ``on_state`` is called on
    the loop thread with each new ``ControlState``.
    """

    def __init__(self, session: Session, monitor: int) -> None:
        self._session = session
        self.monitor = monitor
        self.on_state: Callable[[ControlState], None] | None = None
        self.state = _state("off")
        self.control: Control | None = None
        self.rejected = 0
        """Batches refused by validation (nothing of them was sent)."""
        self.dropped_inactive = 0
        """Batches that came while no control was active."""
        self.dropped_flood = 0
        """Batches dropped because MAX_QUEUED_BATCHES were already waiting."""
        self._asking = False
        self._wanted = False
        self._queue: asyncio.Queue[list[InputEvent]] | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._point_at: tuple[int, int] | None = None
        self._pointing = False
        self._point_task: asyncio.Task[None] | None = None
        self.on_note: Callable[[str], None] | None = None
        """Called with a line for the engineer (a refused "Zeigen", for example)."""

    def __repr__(self) -> str:
        return f"<ControlLink monitor {self.monitor} {self.state.state}>"

    # -- from the widget (any thread) -----------------------------------------------------
    def want(self, want: bool) -> None:
        """Ask the customer for control (``True``) or give it back (``False``)."""
        self._on_loop(self._take() if want else self._give_back())

    def send(self, events: object) -> None:
        """Validate one batch in the wire form and queue it for the channel."""
        try:
            batch = parse_batch(json.dumps(events).encode())
        except (ProtocolError, TypeError, ValueError):
            self.rejected += 1
            return
        loop = self._session._lt.loop
        if loop.is_closed():
            self.dropped_inactive += 1
            return
        loop.call_soon_threadsafe(self._enqueue, batch)

    def point(self, at: tuple[int, int] | None) -> None:
        """Show the customer a marker at ``at`` (monitor pixels), or hide it; the latest wins."""
        loop = self._session._lt.loop
        if not loop.is_closed():
            loop.call_soon_threadsafe(self._point_on_loop, at)

    def _point_on_loop(self, at: tuple[int, int] | None) -> None:
        self._point_at = at
        if not self._pointing:  # one sender at a time; it picks up the newest position
            self._pointing = True
            self._point_task = asyncio.ensure_future(self._send_points())

    async def _send_points(self) -> None:
        sent: object = ...
        try:
            while self._point_at != sent:
                sent = at = self._point_at
                params = {"at": list(at) if at is not None else None}
                await self._session._op_done("screen.point", monitor=self.monitor, **params)
        except ZvkdiagError as exc:  # denied, outside the monitor, session gone: say so
            if self.on_note is not None:
                self.on_note(f"Zeigen: {exc}")
        finally:
            self._pointing = False

    def _on_loop(self, coro: object) -> None:
        try:
            self._session._lt.submit(coro)  # type: ignore[arg-type]
        except LoopStopped:  # the coroutine was closed unrun
            self._set(_state("off", "The session is closed."))

    # -- on the session loop ----------------------------------------------------------------
    def _set(self, state: ControlState) -> None:
        if state == self.state:
            return
        self.state = state
        if self.on_state is not None:
            self.on_state(state)

    def _enqueue(self, batch: list[InputEvent]) -> None:
        if self._queue is None:
            self.dropped_inactive += 1
        elif self._queue.full():
            self.dropped_flood += 1
        else:
            self._queue.put_nowait(batch)

    async def _take(self) -> None:
        from zvkdiag.engineer.controlling import open_control

        self._wanted = True
        if self._asking or (self.control is not None and self.control.active):
            return
        self._asking = True
        self._set(_state("asking"))
        try:
            control = await open_control(self._session, self.monitor)
        except ConsentDenied as exc:
            self._set(_state("denied", str(exc)))
            return
        except ZvkdiagError as exc:
            self._set(_state("off", str(exc)))
            return
        finally:
            self._asking = False
        if not self._wanted:  # given back while the customer was being asked
            await control.arelease()
            self._set(_state("off"))
            return
        self.control = control
        self._queue = asyncio.Queue(MAX_QUEUED_BATCHES)
        self._set(_state("on"))
        self._pump_task = asyncio.ensure_future(self._pump(control, self._queue))

    async def _pump(self, control: Control, queue: asyncio.Queue[list[InputEvent]]) -> None:
        """Send queued batches in order; follow the customer's pause; end with control."""
        reason: str | None = None
        try:
            while control.active and self.control is control:
                self._set(_state("paused" if control.paused else "on"))
                try:
                    batch = await asyncio.wait_for(queue.get(), POLL_INTERVAL)
                except TimeoutError:
                    continue
                try:
                    await control.asend(batch)
                except ZvkdiagError as exc:
                    reason = str(exc)
                    break
        finally:
            if self.control is control:  # ended by the customer or the connection
                self.control = None
                self._queue = None
                reason = control.ended or reason
                if reason is None and self._session.closed:
                    reason = "The session has ended."
                await control.arelease()
                self._set(_state("off", reason))

    async def _give_back(self) -> None:
        self._wanted = False
        control, self.control, self._queue = self.control, None, None
        if control is not None:
            await control.arelease()
        self._set(_state("off"))
