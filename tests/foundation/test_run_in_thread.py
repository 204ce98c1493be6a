"""The command runner the Windows customer program uses (its selector loop starts no
subprocesses), run here with real processes."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import psutil
import pytest

from zvkdiag._errors import CommandNotFound, CommandTimeout
from zvkdiag.agent import builtin_ops
from zvkdiag.agent.builtin_ops import run_in_thread


def test_output_and_status() -> None:
    code = "import sys; print('hallo'); print('fehler', file=sys.stderr); sys.exit(3)"
    status, out, out_cut, err, err_cut = run_in_thread([sys.executable, "-c", code], 30.0)
    assert (status, out.strip(), out_cut, err.strip(), err_cut) == (
        3,
        b"hallo",
        False,
        b"fehler",
        False,
    )


def test_output_beyond_the_limit_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builtin_ops, "MAX_OUTPUT", 1000)
    code = "import sys; sys.stdout.write('x' * 5000)"
    status, out, out_cut, _, err_cut = run_in_thread([sys.executable, "-c", code], 30.0)
    assert status == 0 and out == b"x" * 1000 and out_cut and not err_cut


def test_a_missing_program_and_a_timeout_are_named() -> None:
    with pytest.raises(CommandNotFound, match="no program"):
        run_in_thread(["/nonexistent/zvkdiag-nothing"], 30.0)
    with pytest.raises(CommandTimeout, match=r"longer than 0\.5 s"):
        run_in_thread([sys.executable, "-c", "import time; time.sleep(30)"], 0.5)


def _appears(path: Path, within: float) -> bool:
    deadline = time.monotonic() + within
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return path.exists()


def test_cancelling_the_command_kills_it_and_what_it_started(tmp_path: Path) -> None:
    """The session ends while a command runs: on Windows (threads, no process groups)
    the command and its children must not run on to their timeout."""
    pids = tmp_path / "pids"
    grandchild = "import time; time.sleep(300)"
    code = (
        "import os, subprocess, sys, time\n"
        f"g = subprocess.Popen([sys.executable, '-c', {grandchild!r}])\n"
        f"open({str(pids)!r} + '.tmp', 'w').write(f'{{os.getpid()}} {{g.pid}}')\n"
        f"os.replace({str(pids)!r} + '.tmp', {str(pids)!r})\n"
        "time.sleep(300)\n"
    )

    async def main() -> list[int]:
        task = asyncio.create_task(builtin_ops.run_threaded([sys.executable, "-c", code], 600.0))
        assert await asyncio.to_thread(_appears, pids, 60.0), "the command did not start"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return [int(p) for p in pids.read_text().split()]

    started = asyncio.run(main())
    procs = []
    for pid in started:
        with contextlib.suppress(psutil.NoSuchProcess):
            procs.append(psutil.Process(pid))
    _, alive = psutil.wait_procs(procs, timeout=30)
    for proc in alive:
        proc.kill()
    assert not alive, f"still running after the cancel: {alive}"
