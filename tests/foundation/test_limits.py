"""The idle and maximum-length machine, driven by a clock that moves only when told."""

from __future__ import annotations

import pytest

from zvkdiag.agent.limits import Due, SessionLimits, SessionTimer
from zvkdiag.testing.clock import ManualMonotonic

IDLE = SessionLimits(idle_after=900, max_length=0)


def _timer(limits: SessionLimits = IDLE) -> tuple[SessionTimer, ManualMonotonic]:
    clock = ManualMonotonic()
    return SessionTimer(limits, clock), clock


def test_idle_asks_once_then_ends_without_an_answer() -> None:
    timer, clock = _timer()
    assert timer.next_in() == 900
    clock.advance(899)
    assert timer.due() == []
    clock.advance(1)
    assert timer.due() == [Due.ASK] and timer.asking
    assert timer.due() == []  # asked once, not at every check
    assert timer.next_in() == 60
    clock.advance(59)
    timer.activity()  # a request while the question is open does not cancel it
    assert timer.due() == []
    clock.advance(1)
    assert timer.due() == [Due.END_IDLE]
    assert timer.ended is Due.END_IDLE and timer.next_in() is None and timer.due() == []


def test_continue_starts_the_idle_time_afresh() -> None:
    timer, clock = _timer()
    clock.advance(900)
    assert timer.due() == [Due.ASK]
    clock.advance(30)
    timer.answered(keep=True)
    assert not timer.asking and timer.next_in() == 900
    clock.advance(899)
    assert timer.due() == []


def test_end_answer_ends_the_session() -> None:
    timer, clock = _timer()
    clock.advance(900)
    timer.due()
    timer.answered(keep=False)
    assert timer.ended is Due.END_IDLE and timer.due() == []


def test_requests_and_a_live_screen_view_count_as_use() -> None:
    timer, clock = _timer()
    clock.advance(600)
    timer.activity()
    clock.advance(600)
    assert timer.due() == []  # 600 s since the request
    timer.view_started()
    clock.advance(5000)
    assert timer.due() == []  # watching a still screen is use
    timer.view_ended()
    clock.advance(899)
    assert timer.due() == []
    clock.advance(1)
    assert timer.due() == [Due.ASK]


def test_zero_switches_the_idle_timeout_off() -> None:
    timer, clock = _timer(SessionLimits(idle_after=0, max_length=0))
    clock.advance(10**7)
    assert timer.due() == [] and timer.next_in() is None


def test_maximum_length_gives_notice_then_ends() -> None:
    timer, clock = _timer(SessionLimits(idle_after=0, max_length=4 * 3600))
    timer.view_started()  # even a session in use ends
    assert timer.next_in() == 4 * 3600 - 300
    clock.advance(4 * 3600 - 300)
    assert timer.due() == [Due.NOTICE]
    assert timer.minutes_left() == 5
    assert timer.due() == []
    clock.advance(300)
    assert timer.due() == [Due.END_MAX] and timer.ended is Due.END_MAX


def test_a_late_check_reports_both_notice_and_end_in_order() -> None:
    timer, clock = _timer(SessionLimits(idle_after=60, max_length=120, notice_before=300))
    assert timer.due() == [Due.NOTICE]  # a session shorter than the notice: at once
    clock.advance(60)
    assert timer.due() == [Due.ASK]
    clock.advance(60)
    assert timer.due() == [Due.END_MAX]


def test_options_are_minutes_and_hours() -> None:
    limits = SessionLimits.from_options(idle_minutes=0.5, max_hours=2)
    assert (limits.idle_after, limits.max_length) == (30, 7200)
    with pytest.raises(ValueError):
        SessionLimits.from_options(idle_minutes=-1, max_hours=4)
