"""The command runner the Windows customer program uses (its selector loop starts no
subprocesses), run here with real processes."""

from __future__ import annotations

import sys

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
