from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from zvkdiag.cases import CaseStore
from zvkdiag.testing.clock import FixedClock

T0 = datetime(2026, 11, 25, 14, 23, 5, tzinfo=UTC)


@pytest.fixture
def t0() -> datetime:
    """Where every test's :class:`FixedClock` starts."""
    return T0


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: FixedClock) -> CaseStore:
    return CaseStore(tmp_path / "store", clock=clock)
