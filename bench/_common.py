"""Shared helpers for the benchmarks: child processes, statistics, tables, machine facts.

Benchmarks measure zvkdiag beside a peer in the same run and report ratios;
these helpers keep that bookkeeping out of the benchmark scripts.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "PYTHON",
    "RelayProcess",
    "Stats",
    "free_port",
    "machine",
    "raise_nofile",
    "rss_kib",
    "start_relay",
    "table",
    "timed",
]

PYTHON: Final = sys.executable
RELAY_START_TIMEOUT: Final = 10.0
_LISTENING = re.compile(r"Relay listening on (\S+):(\d+)")
_METRICS = re.compile(r"Metrics on (\S+)")


@dataclass(frozen=True)
class Stats:
    """Median and p90 of a list of durations in seconds (reported in ms)."""

    samples: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1e3

    @property
    def p90_ms(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))] * 1e3

    @property
    def min_ms(self) -> float:
        return min(self.samples) * 1e3


def timed(fn: Callable[[], object], n: int) -> Stats:
    """Call ``fn`` ``n`` times and keep each wall-clock duration."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return Stats(tuple(samples))


def raise_nofile(want: int) -> int:
    """Raise the soft open-file limit towards ``want`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


@dataclass
class RelayProcess:
    """The real relay (``python -m zvkdiag relay``) as a child process."""

    proc: subprocess.Popen[str]
    address: str
    metrics_url: str = ""

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def relay_command(*extra: str) -> list[str]:
    return [PYTHON, "-m", "zvkdiag", "relay", "--listen", "127.0.0.1:0", *extra]


@contextlib.contextmanager
def start_relay(*extra: str, nofile: int = 0) -> Iterator[RelayProcess]:
    """Start the relay, wait for its ``Relay listening on`` line, stop it on exit."""

    def preexec() -> None:
        if nofile:
            raise_nofile(nofile)

    proc = subprocess.Popen(
        relay_command(*extra),
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
    )
    relay = RelayProcess(proc, "")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if metrics := _METRICS.search(line):
            relay.metrics_url = metrics[1]
            line = proc.stdout.readline()
        match = _LISTENING.search(line)
        if match is None:
            raise RuntimeError(f"relay did not start: {line!r}")
        relay.address = f"{match[1]}:{match[2]}"
        yield relay
    finally:
        relay.stop()


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` from /proc (VmRSS, KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (for tools that cannot take 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def machine() -> str:
    """One line about the machine, for the report."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, columns padded so it also reads well in a terminal."""
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    lines = [fmt(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [fmt(r) for r in cells[1:]]
    return "\n".join(lines)
