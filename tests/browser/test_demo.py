"""``python -m zvkdiag.demo --smoke``: relay, agent, JupyterLab up, then down, exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_demo_smoke(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    env.pop("DISPLAY", None)  # the demo must bring its own screen
    done = subprocess.run(
        [sys.executable, "-m", "zvkdiag.demo", "--smoke", "--workdir", str(tmp_path / "nb")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=100,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke: JupyterLab answers /api" in done.stdout
    assert "/lab/tree/00_quickstart.ipynb?token=" in done.stdout
    assert (tmp_path / "nb" / "00_quickstart.ipynb").exists()
    creds = tmp_path / "nb" / ".zvkdiag-demo-credentials.json"
    assert creds.stat().st_mode & 0o077 == 0
