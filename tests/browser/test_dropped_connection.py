"""A dropped connection in real JupyterLab: the screen view's badge comes and goes.

The agent and the kernel's session both reach the relay through one
``CuttableLink``; cutting it freezes the picture, and the badge over it must
say why, then give way to "wieder verbunden" once the session resumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_blocking_cell import _open_and_run_first_cell  # same folder
from test_quickstart import UI_TIMEOUT_MS

from zvkdiag.jupyter.launch import LabServer
from zvkdiag.testing.cut import CuttableLink
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

OVERLAY = ".jp-OutputArea-output .zvk-link"
BADGE = ".jp-OutputArea-output .zvk-link-badge"


def test_the_badge_says_interrupted_then_reconnected(
    lab: LabServer,
    page: Any,
    relay: RelayThread,
    consent: AutoConsent,
    display_env: dict[str, str],
    notebook_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in display_env.items():
        monkeypatch.setenv(key, value)  # the agent captures this screen
    with (
        CuttableLink(relay.address) as link,
        AgentThread(consent, relay=link.address, resume_grace=30.0) as agent,
    ):
        cell = (
            "import zvkdiag\n"
            f"s = zvkdiag.connect({agent.session_id!r}, {agent.password!r}, "
            f"relay={link.address!r}, engineer='E', resume_grace=30)\nview = s.screen()\nview"
        )
        _open_and_run_first_cell(page, lab, notebook_dir, "cut.ipynb", [cell])
        page.wait_for_selector(".jp-OutputArea-output canvas", timeout=UI_TIMEOUT_MS)
        page.wait_for_function(  # the first frame drew: the canvas took the screen's size
            "() => document.querySelector('.jp-OutputArea-output canvas').width === 1024",
            timeout=UI_TIMEOUT_MS,
        )
        assert page.locator(OVERLAY).is_hidden()

        link.cut()
        overlay = page.locator(f"{OVERLAY}[data-state='interrupted']")
        overlay.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
        assert "Verbindung unterbrochen – wird wiederhergestellt" in overlay.inner_text()

        link.restore()
        badge = page.locator(f"{BADGE}[data-state='restored']")
        badge.wait_for(timeout=UI_TIMEOUT_MS)
        assert "wieder verbunden" in badge.inner_text()
        assert page.locator(OVERLAY).is_hidden()


def test_the_secure_desktop_note_covers_the_picture_until_it_is_cleared(
    lab: LabServer, page: Any, notebook_dir: Path
) -> None:
    """The note the view shows while the customer answers a Windows security prompt."""
    cells = [
        "import threading\n"
        "from zvkdiag.widgets.screen import SECURE_DESKTOP_TEXT, ScreenView\n"
        "view = ScreenView()\n"
        "display(view)\n"
        "def note(text):\n"
        "    view.screen_note = text\n"
        "threading.Timer(2, note, (SECURE_DESKTOP_TEXT,)).start()\n"
        "threading.Timer(6, note, ('',)).start()\n"
    ]
    _open_and_run_first_cell(page, lab, notebook_dir, "secure.ipynb", cells)
    overlay = page.locator(f"{OVERLAY}[data-note='secure-desktop']")
    overlay.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    assert "Der Kunde bestätigt gerade eine Windows-Sicherheitsabfrage" in overlay.inner_text()
    page.locator(OVERLAY).wait_for(state="hidden", timeout=UI_TIMEOUT_MS)
