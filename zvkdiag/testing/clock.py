"""A clock that stands still until the test moves it.

An honest fake: it implements the same ``now()`` as
:class:`zvkdiag.cases.clock.SystemClock` and nothing else, so code under test
cannot tell the difference except that time only passes when the test says so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["FixedClock", "ManualMonotonic"]


class FixedClock:
    """``now()`` returns ``start`` until :meth:`advance` or :meth:`set` moves it.

    Parameters
    ----------
    start
        An aware datetime; it is converted to UTC.  Naive datetimes are
        refused because "which time zone?" is exactly the bug a fake clock
        should not hide.
    """

    def __init__(self, start: datetime) -> None:
        self._now = _aware_utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` (never backwards) and return the new time."""
        if delta < timedelta(0):
            raise ValueError("a FixedClock only moves forward")
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (for tests that need a specific date)."""
        self._now = _aware_utc(when)

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"


def _aware_utc(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("FixedClock needs an aware datetime, e.g. datetime(..., tzinfo=UTC)")
    return when.astimezone(UTC)


class ManualMonotonic:
    """A ``time.monotonic`` stand-in: seconds that pass only when :meth:`advance` says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a monotonic clock only moves forward")
        self._now += seconds
        return self._now
