from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from zvkdiag.cases.clock import SystemClock
from zvkdiag.testing.clock import FixedClock


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=1))))
    assert clock.now() == datetime(2026, 1, 1, 11, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert clock.advance(timedelta(days=2)) == datetime(2026, 1, 3, 11, tzinfo=UTC)
    assert clock.now() == datetime(2026, 1, 3, 11, tzinfo=UTC)


def test_fixed_clock_refuses_naive_and_backwards() -> None:
    with pytest.raises(ValueError, match="aware"):
        FixedClock(datetime(2026, 1, 1))
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(seconds=-1))


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)
