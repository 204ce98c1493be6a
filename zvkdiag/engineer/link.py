"""The state of the engineer's connection: connected, interrupted since T, or ended.

The resumable stream below SSH (``zvkdiag.resume.transport``) reports a carrier
loss and a successful resume as plain event names through a callback it is
handed; ``LinkWatch.on_event`` is that callback, so the resume room never
imports the engineer room.  Widgets subscribe to the resulting ``LinkState``
values.  Events arrive on the session's loop thread, subscriptions may come
from any thread: a lock guards the state and the subscriber list, and
subscribers are called outside it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["LinkState", "LinkWatch", "Subscriber"]

log = logging.getLogger("zvkdiag.engineer")

Phase = Literal["connected", "interrupted", "ended"]


@dataclass(frozen=True)
class LinkState:
    """One state of the connection; ``since`` is the wall-clock time (``time.time()``) it began."""

    phase: Phase
    since: float
    reason: str | None = None  # why it ended (``ended`` only)

    @property
    def interrupted(self) -> bool:
        return self.phase == "interrupted"


Subscriber = Callable[[LinkState], None]


class LinkWatch:
    """Holds the current ``LinkState`` and tells subscribers about each change."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._state = LinkState("connected", clock())
        self._subscribers: list[Subscriber] = []

    @property
    def state(self) -> LinkState:
        return self._state

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every later state; returns the function that unsubscribes."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def on_event(self, event: str) -> None:
        """The stream's events: ``interrupted``, ``restored``, ``refused``, ``gave-up``."""
        if event == "interrupted":
            self._move("interrupted")
        elif event == "restored":
            self._move("connected")
        elif event == "gave-up":
            self.end("The connection was lost and did not come back in time.")

    def end(self, reason: str | None) -> None:
        """The session is over (idempotent: the first reason stays)."""
        self._move("ended", reason)

    def _move(self, phase: Phase, reason: str | None = None) -> None:
        with self._lock:
            if self._state.phase == "ended" or self._state.phase == phase:
                return
            self._state = state = LinkState(phase, self._clock(), reason)
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(state)
            except Exception:  # a broken widget must not break the session
                log.exception("connection-state subscriber failed")
