"""A process attribute the platform cannot answer empties one column, never the whole probe.

Under Wine, psutil's ``Process.name()`` and ``.exe()`` raise ``OSError 22``;
the same shape of failure is injected here with a small subclass of a real
``psutil.Process`` (this test process itself).
"""

from __future__ import annotations

import os

import psutil

from zvkdiag.probes import processes


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
