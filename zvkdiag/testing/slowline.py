"""A whole zvkdiag session across a ``ShapedLink``: relay process, agent, engineer.

The relay runs as its own process in the engineer's namespace; the agent
(``AgentThread``, auto-consent) dials it from the customer's namespace
through the delay forwarder, so everything the agent sends and receives
crosses the shaped veth and the delay; the engineer's ``Session`` connects
to the relay inside the engineer's namespace.  The X display is shared by
both namespaces through its socket file.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import zvkdiag
from zvkdiag.screen.stream import ScreenStreamer
from zvkdiag.testing.fakes import AgentThread
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.shaping import ShapedLink, entered

__all__ = ["FrameWatch", "Seen", "SlowSession", "slow_session", "streamers", "touches"]

Rect = tuple[int, int, int, int]  # x, y, w, h


@dataclass(frozen=True)
class Seen:
    """One frame as the engineer's side applied it (``time.time()`` stamps)."""

    seq: int
    applied_at: float
    captured_at: float
    rects: list[Rect]


@dataclass
class SlowSession:
    agent: AgentThread
    session: zvkdiag.Session
    relay: Proc


def streamers(agent: AgentThread) -> list[ScreenStreamer]:
    """The agent's running screen streams (read them while the session is open)."""
    session = agent.agent.session
    return [] if session is None else list(session.streams)


@contextlib.contextmanager
def slow_session(link: ShapedLink, engineer: str = "Slow line") -> Iterator[SlowSession]:
    """A relay, an agent and a connected session across ``link``; all closed afterwards."""
    relay = Proc("relay", "--listen", "127.0.0.1:0", prefix=link.prefix(link.engineer))
    try:
        port = int(relay.expect(r"Relay listening on \S+:(\d+)").group(1))
        way_in = link.forward((link.engineer_ip, 0), ("127.0.0.1", port))
        with entered(link.customer):
            agent = AgentThread(relay=f"{way_in[0]}:{way_in[1]}")
        with agent:
            with entered(link.engineer):
                session = zvkdiag.connect(
                    agent.session_id, agent.password, relay=f"127.0.0.1:{port}", engineer=engineer
                )
            with session:
                yield SlowSession(agent, session, relay)
    finally:
        relay.stop()


class FrameWatch:
    """Takes the session's screen frames on a thread of its own (and so acknowledges them).

    ``frames`` holds every frame as ``Seen``.
    """

    def __init__(self, session: zvkdiag.Session) -> None:
        self.frames: list[Seen] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(session),), daemon=True)
        self._thread.start()

    async def _run(self, session: zvkdiag.Session) -> None:
        async for got in session.frames():
            f = got.frame
            rects = [(t.x, t.y, t.w, t.h) for t in f.tiles]
            self.frames.append(Seen(f.seq, got.applied_at, f.captured_at, rects))
            if self._stop.is_set():
                return

    def arrivals(self) -> list[float]:
        return [seen.applied_at for seen in self.frames]

    def first_touching(self, rect: Rect, after: float, timeout: float = 5.0) -> Seen | None:
        """The first frame applied after ``after`` that draws into ``rect``."""
        while time.time() - after < timeout:
            for seen in list(self.frames):
                if seen.applied_at > after and any(touches(r, rect) for r in seen.rects):
                    return seen
            time.sleep(0.001)
        return None

    def stop(self) -> None:
        """Stop after the next frame (the session's end stops it as well)."""
        self._stop.set()


def touches(a: Rect, b: Rect) -> bool:
    """True when the rectangles overlap."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
