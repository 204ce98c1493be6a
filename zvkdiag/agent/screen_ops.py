"""Screen ops: ``screen.monitors`` and the ``screen`` stream, gated by the ``screen.view`` consent.

The consent is standing: asked once, valid until the customer withdraws it
(``AgentControl.revoke``) or the session ends; withdrawing stops every running
stream at once.  The customer's UI is told ``ScreenShared(True)`` when the
first stream starts and ``ScreenShared(False)`` when the last one ends.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from zvkdiag._errors import ProtocolError
from zvkdiag.agent.ops import OpContext, OpRegistry
from zvkdiag.consent.model import Scope, ScreenShared
from zvkdiag.wire.messages import read_message, write_message

if TYPE_CHECKING:
    from zvkdiag.agent.session import AgentSession

__all__ = ["register_all"]


def _session(ctx: OpContext) -> AgentSession:
    assert ctx.session is not None
    return ctx.session  # type: ignore[no-any-return]


async def op_monitors(ctx: OpContext) -> int:
    from zvkdiag.screen.capture import list_monitors  # the capture stack loads on first use

    monitors = [dataclasses.asdict(m) for m in list_monitors()]
    await ctx.accept(monitors=monitors)
    return 0


async def op_screen(ctx: OpContext) -> int:
    monitor = ctx.param("monitor", int, 0)
    if not 0 <= monitor <= 16:
        raise ProtocolError("monitor must be 0 to 16")
    from zvkdiag.screen.frames import MAX_CONTROL_BYTES, VERSION, VERSIONS
    from zvkdiag.screen.stream import ScreenStreamer, serve_screen

    session = _session(ctx)
    if Scope.SCREEN_VIEW.value not in session.standing:
        await ctx.require(ctx.request(Scope.SCREEN_VIEW, monitor=monitor))
        session.standing.add(Scope.SCREEN_VIEW.value)
    version = ctx.param("frame_version", int, VERSION)  # viewers before v2 do not send it
    if version not in VERSIONS:
        raise ProtocolError(f"screen frame version {version} is not one of {VERSIONS}")
    streamer = ScreenStreamer(monitor, frame_version=version)
    if not session.streams:
        session.show(ScreenShared(True))
    session.streams.add(streamer)
    session.timer.view_started()
    ctx.audit("screen.view.start", monitor=monitor)
    try:
        await ctx.accept()
        await serve_screen(
            streamer,
            read=lambda: read_message(ctx.stdin, MAX_CONTROL_BYTES),
            write=lambda blob: write_message(ctx.stdout, blob),
        )
    finally:
        session.streams.discard(streamer)
        session.timer.view_ended()
        if not session.streams and not session.ended.is_set():  # else SessionEnded says it all
            session.show(ScreenShared(False))
        ctx.audit("screen.view.end", frames=streamer.stats.frames, bytes_sent=streamer.stats.bytes)
    return 0


def register_all(registry: OpRegistry) -> None:
    registry.register("screen.monitors", op_monitors)
    registry.register("screen", op_screen)
