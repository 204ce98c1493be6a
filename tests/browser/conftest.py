"""JupyterLab started by the test, driven by Debian's Chromium through Playwright.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``
with a fresh profile and the flags that keep it from calling hosts this
closed network refuses.  JupyterLab's settings, workspaces and runtime files
go to the test's temporary folder; widget state is saved into the notebook
(``saveState``) so the test can check what a saved notebook holds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zvkdiag.jupyter.launch import LabServer, start_lab
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread

CHROMIUM = Path("/usr/bin/chromium")
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


def _need_browser() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("playwright.sync_api")


def _lab_settings(folder: Path) -> Path:
    """User settings: save widget state into the notebook (off by default)."""
    plugin = folder / "@jupyter-widgets" / "jupyterlab-manager"
    plugin.mkdir(parents=True)
    (plugin / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": True}))
    return folder


@pytest.fixture
def notebook_dir(tmp_path: Path) -> Path:
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "00_quickstart.ipynb", root)
    return root


@pytest.fixture
def lab(
    tmp_path: Path, notebook_dir: Path, relay: RelayThread, display_env: dict[str, str]
) -> Iterator[LabServer]:
    _need_browser()
    env = {
        "ZVKDIAG_RELAY": relay.address,
        "ZVKDIAG_ENGINEER": "Erika Muster",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(_lab_settings(tmp_path / "lab-settings")),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        **display_env,
    }
    with start_lab(notebook_dir, env=env, log_path=tmp_path / "jupyterlab.log") as server:
        yield server


SCREEN_COLOUR = "#3366cc"


@pytest.fixture
def display_env() -> Iterator[dict[str, str]]:
    from zvkdiag.testing.xvfb import xvfb

    with xvfb(1024, 768) as x:
        # A known colour on the customer's screen, to find on the engineer's canvas.
        subprocess.run(["xsetroot", "-solid", SCREEN_COLOUR], env=x.env(), check=True)
        yield {"DISPLAY": x.display}


@pytest.fixture
def screen_agent(
    relay: RelayThread,
    consent: AutoConsent,
    display_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[AgentThread]:
    for key, value in display_env.items():
        monkeypatch.setenv(key, value)  # the agent captures this screen
    with AgentThread(consent, relay=relay.address) as a:
        yield a


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        page = context.new_page()
        try:
            yield page
        finally:
            # Left in the test's temporary folder for a post-mortem.
            page.screenshot(path=str(tmp_path / "last-page.png"))
            context.close()
