"""When injected input may pass: the customer's own input wins, floods are cut, silence stops.

Pure state with an injectable clock (seconds, monotonic):

- ``customer_input`` pauses injection for ``CUSTOMER_PAUSE`` seconds after the
  customer last moved their mouse or typed; events arriving meanwhile are
  dropped, not queued (a backlog that replays later would act on a screen
  that has changed);
- a token bucket bounds a misbehaving client: events beyond the rate are
  dropped and counted;
- ``overdue`` says the engineer has been silent longer than
  ``HEARTBEAT_TIMEOUT``: the injector then lets go of everything it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "CUSTOMER_PAUSE",
    "EVENT_BURST",
    "EVENT_RATE",
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_TIMEOUT",
    "InputGate",
]

CUSTOMER_PAUSE: Final = 1.0
HEARTBEAT_INTERVAL: Final = 0.3
"""How often the engineer's side speaks when it has nothing else to send."""
HEARTBEAT_TIMEOUT: Final = 1.0
EVENT_RATE: Final = 2000.0
"""Events per second a client may inject on average (a fast typist with a mouse: < 100)."""
EVENT_BURST: Final = 1000.0


@dataclass
class InputGate:
    now: float
    paused_until: float = float("-inf")
    last_heard: float = 0.0
    tokens: float = EVENT_BURST
    dropped_paused: int = 0
    dropped_flood: int = 0

    def __post_init__(self) -> None:
        self.last_heard = self.now

    def customer_input(self, now: float) -> bool:
        """The customer used their own mouse or keyboard; True if this starts a pause."""
        starts = not self.paused(now)
        self.paused_until = now + CUSTOMER_PAUSE
        return starts

    def paused(self, now: float) -> bool:
        return now < self.paused_until

    def heard(self, now: float) -> None:
        self.last_heard = now

    def overdue(self, now: float) -> bool:
        return now - self.last_heard > HEARTBEAT_TIMEOUT

    def admit(self, now: float) -> bool:
        """May one more event be injected now?  Counts the ones that may not."""
        self.tokens = min(EVENT_BURST, self.tokens + (now - self.now) * EVENT_RATE)
        self.now = now
        if self.paused(now):
            self.dropped_paused += 1
            return False
        if self.tokens < 1.0:
            self.dropped_flood += 1
            return False
        self.tokens -= 1.0
        return True
