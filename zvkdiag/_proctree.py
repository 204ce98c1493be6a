"""End a child process with everything it started, even what left its process group.

``end_tree`` asks first (POSIX process groups); ``kill_tree`` kills at once.

JupyterLab starts each kernel in a session of its own (so a terminal's Ctrl-C
does not reach it), and a kernel blocked in a cell may outlive the server's
graceful shutdown.  Terminating only the server's group then leaves kernels
behind with PID 1 as parent; so the whole tree's groups are ended.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Final

import psutil

__all__ = ["end_tree", "kill_tree"]

KILL_WAIT: Final = 1.0  # seconds for SIGKILLed processes to be reaped


def end_tree(pid: int, *, grace: float) -> None:
    """SIGTERM every process group in ``pid``'s tree; SIGKILL them after ``grace`` seconds."""
    procs = _tree(pid)
    groups = _groups(procs)
    _signal_groups(groups, signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    if alive:
        procs = [*alive, *(p for p in _tree(pid) if p not in alive)]  # late children too
        _signal_groups(groups | _groups(procs), signal.SIGKILL)
        psutil.wait_procs(procs, timeout=KILL_WAIT)


def kill_tree(pid: int) -> None:
    """Kill ``pid`` and every process it started, at once and on every platform.

    For a command the customer program runs: Windows has no process groups, and
    ``cmd /c`` or PowerShell would otherwise leave their children running.
    """
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    try:
        children = root.children(recursive=True)
    except psutil.Error:  # the command itself is still killed
        children = []
    for proc in (root, *children):
        with contextlib.suppress(psutil.Error):
            proc.kill()


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _groups(procs: list[psutil.Process]) -> set[int]:
    ours = os.getpgrp()
    groups = set()
    for proc in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            groups.add(os.getpgid(proc.pid))
    groups.discard(ours)  # never our own group (the terminal's Ctrl-C already reached it)
    return groups


def _signal_groups(groups: set[int], sig: signal.Signals) -> None:
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)
