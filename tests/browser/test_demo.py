"""``python -m zvkdiag.demo --smoke``: relay, agent, JupyterLab up, then down, exit 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zvkdiag.demo import write_credentials

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
    # the session is over, and so is the file with its ID and password
    assert not (tmp_path / "nb" / ".zvkdiag-demo-credentials.json").exists()


def test_demo_credentials_are_for_this_user_only(tmp_path: Path) -> None:
    creds = tmp_path / ".zvkdiag-demo-credentials.json"
    write_credentials(creds, "123456789", "abcdefgh")
    write_credentials(creds, "987654321", "hgfedcba")  # a new code replaces the file
    assert creds.stat().st_mode & 0o077 == 0
    assert json.loads(creds.read_text(encoding="utf-8"))["id"] == "987654321"
    assert [p.name for p in tmp_path.iterdir()] == [creds.name]  # no temporary file left
