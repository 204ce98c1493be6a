"""A process attribute the platform cannot answer empties one column, never the whole probe.

Under Wine, psutil's ``Process.name()`` and ``.exe()`` raise ``OSError 22`` and its swap
figures (PDH counters) raise ``RuntimeError``; the same shapes of failure are injected here,
with a small subclass of a real ``psutil.Process`` (this test process itself) and in place
of ``psutil.swap_memory``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import psutil
import pytest

from zvkdiag.probes import processes
from zvkdiag.probes.base import ProbeContext
from zvkdiag.probes.eventlog import EventLogProbe
from zvkdiag.probes.runner import run_probe
from zvkdiag.probes.winformats import powershell_json


class WineLikeProcess(psutil.Process):
    """This very process, answering name() and exe() as psutil does under Wine."""

    def name(self) -> str:
        raise OSError(22, "Invalid argument")

    def exe(self) -> str:
        raise OSError(22, "Invalid argument")


class GoneProcess(psutil.Process):
    """A process that ended between the scan's listing and its questions."""

    def num_threads(self) -> int:
        raise psutil.NoSuchProcess(self.pid)


def test_failing_name_and_exe_leave_the_other_columns() -> None:
    record = processes._process_record(WineLikeProcess(os.getpid()), keep_args=False)
    assert record is not None
    assert record["pid"] == os.getpid()
    assert record["name"] is None and record["exe"] is None
    assert record["ppid"] == os.getppid()
    assert record["rss_bytes"] is not None and record["rss_bytes"] > 0
    assert record["started"] is not None


def test_a_process_that_ended_during_the_scan_is_left_out() -> None:
    assert processes._process_record(GoneProcess(os.getpid()), keep_args=False) is None


def test_a_healthy_process_keeps_its_name() -> None:
    record = processes._process_record(psutil.Process(os.getpid()), keep_args=False)
    assert record is not None
    assert record["name"] == psutil.Process(os.getpid()).name()


def _pdh_fails() -> None:
    raise RuntimeError("PdhAddEnglishCounterW failed. Performance counters may be disabled.")


def test_failing_swap_figures_empty_their_columns_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # psutil reads swap use through PDH counters on Windows; Wine has none
    monkeypatch.setattr(psutil, "swap_memory", _pdh_fails)
    result = run_probe("resources")
    assert len(result.records) == 1
    (record,) = result.records
    assert record["swap_total_bytes"] is None and record["swap_used_bytes"] is None
    assert record["memory_total_bytes"] is not None and record["process_count"] is not None
    assert any(w.startswith("swap: RuntimeError: PdhAddEnglishCounterW") for w in result.warnings)


class ScriptedContext(ProbeContext):
    """A real probe context whose commands answer from a table (Wine's stubs print nothing)."""

    def __init__(self, answers: dict[str, str]) -> None:
        super().__init__({"hours": 24.0, "max_events": 10}, platform="windows")
        self.answers = answers
        self.ran: list[str] = []

    def run(self, argv: Sequence[str], **_: Any) -> str | None:
        self.ran.append(argv[0])
        return self.answers.get(argv[0], "")


def test_a_powershell_that_ran_nothing_is_named() -> None:
    ctx = ScriptedContext({})
    assert powershell_json(ctx, "Get-CimInstance Win32_Printer | ConvertTo-Json") == []
    assert ctx.warnings == ["PowerShell ran nothing (no output at all): Win32_Printer not read"]
    powershell_json(ctx, "Get-NetFirewallProfile | Select-Object Name | ConvertTo-Json")
    assert ctx.warnings[-1].endswith(": Get-NetFirewallProfile not read")


@pytest.mark.parametrize(
    ("output", "records"),
    [("zvkdiag-end\r\n", []), ('{"Name": "a"}\r\nzvkdiag-end\r\n', [{"Name": "a"}])],
)
def test_powershell_output_with_its_end_mark(output: str, records: list[object]) -> None:
    ctx = ScriptedContext({"powershell.exe": output})
    assert powershell_json(ctx, "Get-CimInstance Win32_Printer | ConvertTo-Json") == records
    assert ctx.warnings == []


def test_an_event_log_tool_that_says_nothing_is_named() -> None:
    ctx = ScriptedContext({})
    assert list(EventLogProbe().collect(ctx)) == []
    assert ctx.warnings == ["wevtutil says nothing about the System log: no events read"]
    answered = ScriptedContext({"wevtutil": "<Events></Events>"})
    assert list(EventLogProbe().collect(answered)) == []
    assert answered.warnings == []
