"""How often the customer side may grab the screen: a token bucket, and the safety net.

Applications draw one change in bursts a millisecond or two apart (``less``
scrolling three lines: the scroll, then the new lines).  A grab woken by the
first burst can land between them, and the rest of the change then waited a
whole grab period (17 ms at 60 grabs/s) although the screen had settled long
before.  The bucket lets a second grab follow at once and still holds the
rate to ``rate`` grabs a second on average: a steady animation is paced
evenly, only a pause refills the extra grab.

X DAMAGE says what was drawn, so a still screen is not grabbed at all; a full
grab and comparison now and then (``FullPoll``) is the safety net for what a
display's DAMAGE may miss (a video overlay, a GL client drawing directly).
On a display where it has never missed anything, the net widens.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BURST", "FullPoll", "GrabBudget"]

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


class FullPoll:
    """When to grab and compare the whole screen, whatever DAMAGE says.

    Every ``first`` seconds at first.  Each full grab that finds the screen as
    DAMAGE said (nothing drawn, nothing changed) doubles the period, up to
    ``longest``.  One that finds a change DAMAGE did not report sets it back to
    ``first`` for the rest of the stream: this display's DAMAGE misses things.
    Pure bookkeeping on times the caller passes in (monotonic seconds).
    """

    def __init__(self, first: float, longest: float) -> None:
        if first <= 0 or longest < first:
            raise ValueError("first must be positive and longest at least first")
        self.first = first
        self.longest = longest
        self.period = first
        self.trusted = True  # False once DAMAGE was caught missing a change
        self._last = float("-inf")

    def due(self, now: float) -> bool:
        return now - self._last >= self.period

    def done(self, now: float, *, missed: bool | None) -> None:
        """A full grab happened at ``now``.

        ``missed``: it found a change DAMAGE had not reported (True), found the
        screen as DAMAGE said (False), or cannot tell (None: something was drawn
        meanwhile, or the grab was a keyframe); None leaves the period as it is.
        """
        self._last = now
        if missed:
            self.trusted = False
            self.period = self.first
        elif missed is False and self.trusted:
            self.period = min(2 * self.period, self.longest)
