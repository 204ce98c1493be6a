"""What the customer's console shows at start: the ID, and no third-party warnings before it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from zvkdiag.testing.procs import Proc


def test_console_start_prints_no_warning_before_the_id(
    spawn: type[Proc], relay_process: str, tmp_path: Path
) -> None:
    # the warning filters a customer has: Python's defaults (no -W, no PYTHONWARNINGS)
    env = {"XDG_DATA_HOME": str(tmp_path), "PYTHONWARNINGS": ""}
    cust = spawn(
        "quicksupport", "--relay", relay_process, "--ui", "console", "--lang", "de", env=env
    )
    cust.expect(r"^ID: \d{3} \d{3} \d{3}$")
    cust.expect(r"^Password: ")
    cust.stop()
    assert cust.proc.stderr is not None
    said = cust.proc.stderr.read()
    assert "Warning" not in said and "warn" not in said.lower(), said
    assert not any("Warning" in line for line in cust.seen), cust.seen


def test_the_customer_program_imports_cleanly_with_warnings_as_errors() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import zvkdiag.quicksupport.app, asyncssh"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
