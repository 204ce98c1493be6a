"""How often the customer side may grab the screen: a token bucket.

Applications draw one change in bursts a millisecond or two apart (``less``
scrolling three lines: the scroll, then the new lines).  A grab woken by the
first burst can land between them, and the rest of the change then waited a
whole grab period (17 ms at 60 grabs/s) although the screen had settled long
before.  The bucket lets a second grab follow at once and still holds the
rate to ``rate`` grabs a second on average: a steady animation is paced
evenly, only a pause refills the extra grab.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BURST", "GrabBudget"]

BURST: Final = 2  # grabs that may follow each other without waiting after a pause


class GrabBudget:
    """Grabs allowed: ``burst`` at once, refilled at ``rate`` per second.

    Pure bookkeeping on times the caller passes in (monotonic seconds).
    """

    def __init__(self, rate: float, burst: int = BURST) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = float("-inf")

    def _level(self, now: float) -> float:
        return min(float(self.burst), self._tokens + (now - self._at) * self.rate)

    def ready_at(self, now: float) -> float:
        """The earliest time, not before ``now``, at which a grab is allowed."""
        missing = 1.0 - self._level(now)
        return now if missing <= 0 else now + missing / self.rate

    def spend(self, now: float) -> None:
        """A grab happened at ``now`` (allowed or not: the level may go below zero)."""
        self._tokens = self._level(now) - 1.0
        self._at = now
