"""Where the case store gets "now" from: the wall clock, or a fake in tests.

Retention and timestamps depend on the time; passing the clock in (instead of
calling ``datetime.now`` deep inside) lets a test move time forward honestly
with :class:`zvkdiag.testing.clock.FixedClock`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """Anything with ``now()`` returning an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"
