"""DPI awareness: newest API first, each fallback in turn; checked on Linux with a fake user32."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from zvkdiag.screen import win32dpi


class _Call:
    """A DLL function that records its calls and answers ``result``."""

    def __init__(self, result: int, calls: list[tuple[str, tuple[Any, ...]]], name: str) -> None:
        self.result, self.calls, self.name = result, calls, name
        self.restype: Any = None
        self.argtypes: Any = None

    def __call__(self, *args: Any) -> int:
        self.calls.append((self.name, args))
        return self.result


class FakeDll:
    """Only the functions given exist, as on an older Windows."""

    def __init__(self, calls: list[tuple[str, tuple[Any, ...]]], **results: int) -> None:
        for name, result in results.items():
            setattr(self, name, _Call(result, calls, name))


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    win32dpi._reset_for_tests()
    yield
    win32dpi._reset_for_tests()


def test_per_monitor_v2_first() -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = []
    user32 = FakeDll(calls, SetProcessDpiAwarenessContext=1, SetProcessDPIAware=1)
    assert win32dpi.set_dpi_awareness(user32=user32, shcore=None) == "per-monitor-v2"
    assert calls == [("SetProcessDpiAwarenessContext", (-4,))]


def test_windows_8_1_falls_back_to_shcore() -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = []
    user32 = FakeDll(calls, SetProcessDPIAware=1)
    shcore = FakeDll(calls, SetProcessDpiAwareness=0)
    assert win32dpi.set_dpi_awareness(user32=user32, shcore=shcore) == "per-monitor"
    assert calls == [("SetProcessDpiAwareness", (2,))]


def test_refused_calls_fall_through_and_only_the_first_call_acts() -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = []
    user32 = FakeDll(calls, SetProcessDpiAwarenessContext=0, SetProcessDPIAware=1)
    shcore = FakeDll(calls, SetProcessDpiAwareness=-2147024891)  # E_ACCESSDENIED
    assert win32dpi.set_dpi_awareness(user32=user32, shcore=shcore) == "system"
    assert [name for name, _ in calls] == [
        "SetProcessDpiAwarenessContext",
        "SetProcessDpiAwareness",
        "SetProcessDPIAware",
    ]
    assert win32dpi.set_dpi_awareness(user32=user32, shcore=shcore) == "system"
    assert len(calls) == 3


def test_nothing_to_do_off_windows() -> None:
    assert win32dpi.set_dpi_awareness() == "not windows"
