"""Fixtures: Xvfb, the real relay, the customer's real program and an engineer, per test.

The customer's program runs as a child process (``python -m zvkdiag
quicksupport --ui tk``) on a fresh Xvfb; the engineer uses the public API
from threads of the test process, because ``connect`` and ``run`` block
until the customer answers, and the test is the customer.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

import zvkdiag
from zvkdiag.testing.fakes import RelayThread
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.xvfb import xvfb

from .driver import Screen
from .reference import Reference

WIDTH, HEIGHT = 1024, 768
ENGINEER: Final = "Erika Muster"
ID_LINE: Final = r"^ID: (\d{3} \d{3} \d{3})$"
PASSWORD_LINE: Final = r"^Password: ([a-z2-9]{4}-[a-z2-9]{4})$"
EXIT_WAIT: Final = 10.0
"""Upper bound for a child to exit; generous, the machine is shared."""


@pytest.fixture
def screen() -> Iterator[Screen]:
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.skip("needs Xvfb and xdotool")
    with xvfb(width=WIDTH, height=HEIGHT) as server:
        yield Screen(server)


@pytest.fixture
def reference(screen: Screen) -> Reference:
    return Reference(screen)


@dataclass
class Customer:
    """The customer's program: its process and what it printed at start."""

    proc: Proc
    session_id: str
    password: str
    audit_path: Path

    def next_password(self, timeout: float = 15.0) -> str:
        """The next ``Password:`` line (the program prints one whenever it changes)."""
        return self.proc.expect(PASSWORD_LINE, timeout).group(1)

    def interrupt(self) -> int:
        """Ctrl-C, then the exit status."""
        self.proc.proc.send_signal(signal.SIGINT)
        return self.proc.proc.wait(EXIT_WAIT)


StartCustomer = Callable[..., Customer]


@pytest.fixture
def start_customer(screen: Screen, relay: RelayThread, tmp_path: Path) -> Iterator[StartCustomer]:
    procs: list[Proc] = []

    def start(*extra: str) -> Customer:
        proc = Proc(
            "quicksupport",
            "--relay",
            relay.address,
            "--ui",
            "tk",
            "--lang",
            "de",
            *extra,
            env={"DISPLAY": screen.display, "XDG_DATA_HOME": str(tmp_path)},
        )
        procs.append(proc)
        session_id = proc.expect(ID_LINE).group(1)
        password = proc.expect(PASSWORD_LINE).group(1)
        return Customer(proc, session_id, password, tmp_path / "zvkdiag" / "audit.jsonl")

    yield start
    for proc in procs:
        proc.stop()
        _show_stderr(proc)


def _show_stderr(proc: Proc) -> None:
    """Print what the child said on stderr, so a failing test shows it."""
    if proc.proc.stderr is not None:
        with contextlib.suppress(ValueError, OSError):
            said = proc.proc.stderr.read()
            if said:
                print(f"--- customer stderr (exit {proc.proc.returncode}) ---\n{said}")


class Engineer:
    """The support engineer's side; each blocking call runs on a thread of its own."""

    def __init__(self, relay: RelayThread) -> None:
        self.relay = relay
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="engineer")
        self.sessions: list[zvkdiag.Session] = []

    def connect(self, session_id: str, password: str) -> Future[zvkdiag.Session]:
        future = self.pool.submit(
            zvkdiag.connect, session_id, password, relay=self.relay.address, engineer=ENGINEER
        )
        future.add_done_callback(self._keep)
        return future

    def call(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self.pool.submit(fn, *args)

    def _keep(self, future: Future[zvkdiag.Session]) -> None:
        if not future.cancelled() and future.exception() is None:
            self.sessions.append(future.result())

    def close(self) -> None:
        for session in self.sessions:
            with contextlib.suppress(Exception):  # teardown: the test has its verdict
                session.close()
        self.pool.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def engineer(relay: RelayThread) -> Iterator[Engineer]:
    eng = Engineer(relay)
    yield eng
    eng.close()


def audit_verify(path: Path) -> str:
    """``python -m zvkdiag audit verify FILE``: its stdout (exit status must be 0)."""
    done = subprocess.run(
        [sys.executable, "-m", "zvkdiag", "audit", "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout
