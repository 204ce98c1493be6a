"""Child processes of the real ``zvkdiag`` command, with their stdout lines collected."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from queue import Empty, Queue
from typing import Any

__all__ = ["Proc", "end"]

PIPE_DRAIN = 5.0
"""Seconds to wait for the last stdout lines of an ended child (a grandchild may hold it)."""


def end(proc: subprocess.Popen[Any], timeout: float | None = None) -> None:
    """Kill ``proc`` if it still runs, reap it and close its pipes (no ResourceWarning later)."""
    proc.kill()
    proc.wait(timeout)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):  # unflushed input to a killed child
                pipe.close()


class Proc:
    """A zvkdiag child process whose stdout lines are collected by a thread."""

    def __init__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        prefix: Sequence[str] = (),
        module: str = "zvkdiag",
        program: Sequence[str] | None = None,
        clean_env: bool = False,
    ) -> None:
        # ``prefix``: e.g. ``ip netns exec NAME`` to run it in a network namespace;
        # ``module``: another runnable module (a test network's servers);
        # ``program``: another build of zvkdiag (the one-file binary) instead of ``-m module``;
        # ``clean_env``: ``env`` is all the child gets, as with ``env -i``
        command = list(program) if program else [sys.executable, "-m", module]
        self.proc = subprocess.Popen(
            [*prefix, *command, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=dict(env or {}) if clean_env else {**os.environ, **(env or {})},
        )
        self.lines: Queue[str] = Queue()
        self.seen: list[str] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        """Wait for a line matching ``pattern`` (earlier lines are kept in ``seen``)."""
        rx = re.compile(pattern)
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except Empty:
                raise AssertionError(f"no line matching {pattern!r}; saw {self.seen}") from None
            self.seen.append(line)
            if m := rx.search(line):
                return m

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        status = self.proc.wait()
        self._close_pipes()
        return status

    def _close_pipes(self) -> None:
        """Close the pipes of an ended child; what it said on stderr stays readable."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self._pump_thread.join(PIPE_DRAIN)
        if self.proc.stdout is not None and not self._pump_thread.is_alive():
            self.proc.stdout.close()
        err = self.proc.stderr
        if err is not None and not isinstance(err, io.StringIO):
            with contextlib.suppress(OSError, ValueError):
                said = err.read()
                err.close()
                self.proc.stderr = io.StringIO(said)
