"""When a session ends by itself: idle timeout with a "still needed?" question, maximum length.

Pure: no I/O, no sleeping.  ``SessionTimer`` is told what happens (a request,
a screen view starting or ending, the customer's answer) and, when asked with
:meth:`SessionTimer.due`, says what is due now; :meth:`SessionTimer.next_in`
says how long the caller may sleep before asking again.  The agent's session
runs the loop and does the talking (``zvkdiag.agent.session``).

States::

    active ──idle for idle_after──▶ asking ──"Fortsetzen"──▶ active
                                      │
                                      └──no answer in answer_within──▶ ended (idle)
    any ──max_length since start──▶ ended (max-length), with a notice notice_before it
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ANSWER_WITHIN",
    "DEFAULT_IDLE_MINUTES",
    "DEFAULT_MAX_HOURS",
    "NOTICE_BEFORE",
    "Due",
    "SessionLimits",
    "SessionTimer",
]

DEFAULT_IDLE_MINUTES: Final = 15.0
DEFAULT_MAX_HOURS: Final = 4.0
ANSWER_WITHIN: Final = 60.0  # seconds the customer has to answer "still needed?"
NOTICE_BEFORE: Final = 300.0  # seconds of warning before the maximum length ends a session


@dataclass(frozen=True)
class SessionLimits:
    """Seconds; ``idle_after`` or ``max_length`` of 0 switch that limit off."""

    idle_after: float = DEFAULT_IDLE_MINUTES * 60
    max_length: float = DEFAULT_MAX_HOURS * 3600
    answer_within: float = ANSWER_WITHIN
    notice_before: float = NOTICE_BEFORE

    @classmethod
    def from_options(cls, *, idle_minutes: float, max_hours: float) -> SessionLimits:
        if idle_minutes < 0 or max_hours < 0:
            raise ValueError("--idle-minutes and --max-session-hours are 0 (off) or positive")
        return cls(idle_after=idle_minutes * 60, max_length=max_hours * 3600)


class Due(enum.Enum):
    ASK = "ask"  # ask the customer whether the session is still needed
    END_IDLE = "idle"  # no answer: end the session
    NOTICE = "notice"  # tell the customer the maximum length is near
    END_MAX = "max-length"  # the maximum length is reached: end the session


class SessionTimer:
    """The idle and maximum-length state of one session."""

    def __init__(self, limits: SessionLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self.started = clock()
        self._last = self.started
        self._views = 0
        self._asked_at: float | None = None
        self._noticed = False
        self.ended: Due | None = None

    @property
    def asking(self) -> bool:
        return self._asked_at is not None and self.ended is None

    def minutes_left(self) -> float:
        """Minutes until the maximum length ends the session (inf without a maximum)."""
        if not self.limits.max_length:
            return float("inf")
        return max(0.0, (self.started + self.limits.max_length - self._clock()) / 60)

    # -- what happened ---------------------------------------------------------------
    def activity(self) -> None:
        """The engineer asked for something: the session is in use."""
        if not self.asking:
            self._last = self._clock()

    def view_started(self) -> None:
        self._views += 1
        self.activity()

    def view_ended(self) -> None:
        self._views = max(0, self._views - 1)
        self.activity()

    def answered(self, keep: bool) -> None:
        """The customer's answer to "still needed?": keep it ("Fortsetzen") or not."""
        if self.ended is not None:
            return
        self._asked_at = None
        self._last = self._clock()
        if not keep:
            self.ended = Due.END_IDLE

    # -- what is due -----------------------------------------------------------------
    def due(self) -> list[Due]:
        """What the session must do now, in order; each step is reported once."""
        if self.ended is not None:
            return []
        now, limits, steps = self._clock(), self.limits, []
        if limits.max_length and now >= self.started + limits.max_length:
            self.ended = Due.END_MAX
            return [Due.END_MAX]
        if limits.max_length and not self._noticed and now >= self._notice_at():
            self._noticed = True
            steps.append(Due.NOTICE)
        if self._asked_at is not None:
            if now >= self._asked_at + limits.answer_within:
                self.ended = Due.END_IDLE
                steps.append(Due.END_IDLE)
        elif self._views:
            self._last = now  # a live screen view is use, however still the picture
        elif limits.idle_after and now >= self._last + limits.idle_after:
            self._asked_at = now
            steps.append(Due.ASK)
        return steps

    def next_in(self) -> float | None:
        """Seconds until something may be due (None: nothing ever will)."""
        if self.ended is not None:
            return None
        limits, times = self.limits, []
        if limits.max_length:
            times.append(self.started + limits.max_length)
            if not self._noticed:
                times.append(self._notice_at())
        if self._asked_at is not None:
            times.append(self._asked_at + limits.answer_within)
        elif limits.idle_after:
            times.append(self._last + limits.idle_after)
        if not times:
            return None
        return max(0.0, min(times) - self._clock())

    def _notice_at(self) -> float:
        return self.started + max(0.0, self.limits.max_length - self.limits.notice_before)
