"""Remote-control ops: ``screen.control``, ``screen.point`` and the text clipboard.

``screen.control`` is its own consent scope and its own SSH channel beside the
screen stream, so a full frame never delays an input event and ending control
never stops the view.  The consent is standing until the customer withdraws it
(indicator, console ``stop``) or the session ends; withdrawing cancels the
running op, whose ``finally`` lets go of every key and button it holds.

On the channel the engineer sends batches of input events (framed JSON,
``zvkdiag.control.events``); the agent answers with framed JSON status
objects ``{"paused": bool, "dropped": int}`` whenever the customer takes over
or gives back, or events were dropped.  The audit log records start, end,
duration and counts of events, never which keys were typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Final

from zvkdiag._errors import ProtocolError
from zvkdiag.agent.ops import OpContext, OpRegistry
from zvkdiag.consent.model import ControlActive, PointerShown, Scope
from zvkdiag.control.backend import open_backend, open_watcher
from zvkdiag.control.events import MAX_BATCH_BYTES, MAX_CLIPBOARD, MAX_COORDINATE, parse_batch
from zvkdiag.control.injector import Injector, Screen
from zvkdiag.wire.messages import read_message, write_message

if TYPE_CHECKING:
    from zvkdiag.agent.session import AgentSession

__all__ = ["register_all"]

TICK: Final = 0.05
"""Seconds between checks for stale keys, a silent engineer and the customer's pause."""


def _session(ctx: OpContext) -> AgentSession:
    assert ctx.session is not None
    return ctx.session  # type: ignore[no-any-return]


def _monitor(ctx: OpContext) -> tuple[int, Screen]:
    from zvkdiag.screen import list_monitors

    monitor = ctx.param("monitor", int, 0)
    monitors = list_monitors()
    if not 0 <= monitor < len(monitors):
        raise ProtocolError(f"there is no monitor {monitor} (0..{len(monitors) - 1})")
    m = monitors[monitor]
    return monitor, Screen(m.left, m.top, m.width, m.height)


async def _standing(ctx: OpContext, scope: Scope, **detail: object) -> None:
    session = _session(ctx)
    if scope.value not in session.standing:
        await ctx.require(ctx.request(scope, **detail))
        session.standing.add(scope.value)


async def op_control(ctx: OpContext) -> int:
    monitor, screen = _monitor(ctx)
    session = _session(ctx)
    backend = open_backend()  # first: never ask the customer for what cannot work here
    try:
        await _standing(ctx, Scope.SCREEN_CONTROL, monitor=monitor)
    except BaseException:
        backend.close()
        raise
    injector = Injector(backend, screen, clock=time.monotonic)
    watcher = open_watcher()
    started = time.monotonic()
    stop = asyncio.Event()  # set by the customer's "Steuerung beenden"
    session.controls.add(stop)
    session.timer.view_started()  # an engineer steering is using the session
    session.show(ControlActive(True))
    ctx.audit("screen.control.start", monitor=monitor)
    try:
        await ctx.accept(width=screen.width, height=screen.height, watches=watcher is not None)
        reporter = _Reporter(ctx, injector, session)
        if watcher is not None:
            watcher.start(reporter.customer_input)
        await _until_stopped(_feed(ctx, injector, reporter), reporter.tick_forever(), stop.wait())
    finally:
        injector.release_all()
        if watcher is not None:
            watcher.close()
        backend.close()
        session.controls.discard(stop)
        session.timer.view_ended()
        if not session.controls and not session.ended.is_set():
            session.show(ControlActive(False))
        ctx.audit(
            "screen.control.end",
            seconds=round(time.monotonic() - started, 1),
            dropped=injector.gate.dropped_paused + injector.gate.dropped_flood,
            **dict(injector.counts),
        )
    return 0


async def _feed(ctx: OpContext, injector: Injector, reporter: _Reporter) -> None:
    while (blob := await read_message(ctx.stdin, MAX_BATCH_BYTES)) is not None:
        try:
            injector.apply(parse_batch(blob))
        except ProtocolError as exc:  # the batch is refused whole; control goes on
            await reporter.send(rejected=str(exc))


async def _until_stopped(*aws: Coroutine[Any, Any, Any]) -> None:
    """Run all until the first ends; cancel the rest; an error of the first is raised."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()


class _Reporter:
    """Tells the engineer when the customer takes over or gives back, and what was dropped."""

    def __init__(self, ctx: OpContext, injector: Injector, session: AgentSession) -> None:
        self.ctx, self.injector, self.session = ctx, injector, session
        self.paused = False
        self.dropped = 0
        self.sending: set[asyncio.Task[None]] = set()

    def customer_input(self) -> None:
        if self.injector.customer_input():
            self._changed()

    async def tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self.injector.tick()
            self._changed()

    def _changed(self) -> None:
        gate = self.injector.gate
        dropped = gate.dropped_flood + gate.dropped_paused
        paused = self.injector.paused
        if paused != self.paused or dropped != self.dropped:
            self.paused, self.dropped = paused, dropped
            self.session.show(ControlActive(True, paused=paused))
            task = asyncio.ensure_future(self.send(paused=paused, dropped=dropped))
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)

    async def send(self, **status: object) -> None:
        with contextlib.suppress(Exception):  # the channel may be closing right now
            await write_message(self.ctx.stdout, json.dumps(status).encode())


async def op_point(ctx: OpContext) -> int:
    """Show (or hide) a large marker where the engineer points; it never clicks."""
    monitor, screen = _monitor(ctx)
    await _standing(ctx, Scope.SCREEN_POINT, monitor=monitor)
    position = ctx.params.get("at")
    if position is None:
        _session(ctx).show(PointerShown(None))
    else:
        if (
            not isinstance(position, list)
            or len(position) != 2
            or not all(isinstance(v, int) and 0 <= v <= MAX_COORDINATE for v in position)
        ):
            raise ProtocolError("'at' is [x, y] in pixels of the monitor")
        x, y = position
        if x >= screen.width or y >= screen.height:
            raise ProtocolError(f"({x}, {y}) is outside the monitor")
        _session(ctx).show(PointerShown((screen.left + x, screen.top + y)))
    ctx.audit("screen.point", monitor=monitor, shown=position is not None)
    await ctx.accept()
    return 0


async def op_clipboard_send(ctx: OpContext) -> int:
    said = ctx.param("text", str)
    if len(said.encode()) > MAX_CLIPBOARD:
        raise ProtocolError(f"clipboard text is at most {MAX_CLIPBOARD} bytes")
    clipboard = _session(ctx).clipboard
    if clipboard is None:
        raise ProtocolError("the customer's program has no clipboard access in this UI")
    await ctx.require(ctx.request(Scope.CLIPBOARD_SEND, text=said))
    await clipboard.set_text(said)
    ctx.audit("clipboard.send", chars=len(said))
    await ctx.accept()
    return 0


async def op_clipboard_get(ctx: OpContext) -> int:
    clipboard = _session(ctx).clipboard
    if clipboard is None:
        raise ProtocolError("the customer's program has no clipboard access in this UI")
    # at most 64 KiB leave; what the customer is shown is exactly what is sent
    current = (await clipboard.get_text()).encode()[:MAX_CLIPBOARD].decode("utf-8", "ignore")
    await ctx.require(ctx.request(Scope.CLIPBOARD_GET, text=current))
    ctx.audit("clipboard.get", chars=len(current))
    await ctx.accept()
    await write_message(ctx.stdout, current.encode())
    return 0


def register_all(registry: OpRegistry) -> None:
    registry.register("screen.control", op_control)
    registry.register("screen.point", op_point)
    registry.register("clipboard.send", op_clipboard_send)
    registry.register("clipboard.get", op_clipboard_get)
