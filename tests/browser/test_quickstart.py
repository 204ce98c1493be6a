"""The quickstart notebook in a real JupyterLab and a real (headless) Chromium.

The relay and the agent (with an auto-answering consent UI) run in this
process; JupyterLab is a child process; the test clicks and types like an
engineer: run the panel's cell, fill in ID and password, press Connect,
then run the remaining cells (``panel.wait()`` first).  Pressing Connect
while ``panel.wait()`` blocks is covered by test_blocking_cell.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import SCREEN_COLOUR  # same folder

import zvkdiag
from zvkdiag.consent.model import EngineerMessage
from zvkdiag.jupyter.launch import LabServer
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.wire import codes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]

HAS_SCREEN = hasattr(zvkdiag.Session, "screen")
UI_TIMEOUT_MS = 60_000


def _run_menu(page: Any, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).first.click()


def _select_cell(page: Any, index: int) -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputPrompt").click()


def _wait_kernel_idle(page: Any, lab: LabServer) -> None:
    """Until the notebook's kernel runs; accept the kernel dialog if JupyterLab shows one."""
    for _ in range(UI_TIMEOUT_MS // 250):
        accept = page.locator(".jp-Dialog button.jp-mod-accept")
        if accept.count():
            accept.first.click()
        sessions = lab.api("sessions")
        assert isinstance(sessions, list)
        if any(s.get("kernel", {}).get("execution_state") == "idle" for s in sessions):
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=UI_TIMEOUT_MS
            )
            return
        page.wait_for_timeout(250)
    raise AssertionError("the notebook's kernel did not start")


def _canvas_shows_colour(page: Any, hex_colour: str) -> bool:
    """Most of some canvas is ``hex_colour`` (JPEG: within a small tolerance)."""
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    share = page.evaluate(
        """(rgb) => Math.max(0, ...[...document.querySelectorAll('.jp-OutputArea-output canvas')]
            .map(c => {
                if (!c.width || !c.height) return 0;
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let hits = 0;
                for (let i = 0; i < d.length; i += 4) {
                    if (Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1])
                        + Math.abs(d[i + 2] - rgb[2]) < 24) hits++;
                }
                return hits / (d.length / 4);
            }))""",
        rgb,
    )
    return float(share) > 0.5


def test_quickstart_connects_and_shows_results(
    lab: LabServer,
    page: Any,
    relay: RelayThread,
    screen_agent: AgentThread,
    consent: AutoConsent,
    notebook_dir: Path,
) -> None:
    page.goto(lab.notebook_url("00_quickstart.ipynb"))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=UI_TIMEOUT_MS)
    _wait_kernel_idle(page, lab)
    _select_cell(page, 1)
    page.keyboard.press("Control+Enter")  # run the panel's cell, stay there

    panel = page.locator(".zvk-connect")
    panel.wait_for(timeout=UI_TIMEOUT_MS)
    assert panel.locator("input[name=relay]").input_value() == relay.address
    panel.locator("input[name=session_id]").fill(codes.format_id(screen_agent.session_id))
    password = screen_agent.password
    panel.locator("input[name=password]").fill(password)
    panel.locator("button[name=connect]").click()
    assert panel.locator("input[name=password]").input_value() == ""
    page.wait_for_selector(".zvk-status[data-state='connected']", timeout=UI_TIMEOUT_MS)
    assert "Connected to" in panel.locator(".zvk-status").inner_text()
    _select_cell(page, 3)
    _run_menu(page, "Run Selected Cell and All Below")

    table = page.locator(".jp-OutputArea-output table.dataframe")
    table.first.wait_for(timeout=UI_TIMEOUT_MS)
    assert "hostname" in table.first.inner_text() or "system" in table.first.inner_text()
    assert consent.wait_for(
        lambda: any(isinstance(e, EngineerMessage) for e in consent.events), timeout=30
    )
    feed = page.locator(".zvk-feed tr[data-state='allowed']")
    page.wait_for_function(
        "() => document.querySelectorAll(\".zvk-feed tr[data-state='allowed']\").length >= 3",
        timeout=UI_TIMEOUT_MS,
    )
    assert "probes: os" in page.locator(".zvk-feed").inner_text()
    assert feed.count() >= 3

    if HAS_SCREEN:
        page.wait_for_function(
            "() => document.querySelector('.jp-OutputArea-output canvas') !== null",
            timeout=UI_TIMEOUT_MS,
        )
        for _ in range(100):  # until the first frame is drawn
            if _canvas_shows_colour(page, SCREEN_COLOUR):
                break
            page.wait_for_timeout(200)
        assert _canvas_shows_colour(page, SCREEN_COLOUR)

    _save_and_check(page, notebook_dir / "00_quickstart.ipynb", password)


def _save_and_check(page: Any, path: Path, password: str) -> None:
    """Save with widget state; the password is nowhere in the file."""
    before = path.stat().st_mtime_ns
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    for _ in range(100):
        if path.stat().st_mtime_ns != before:
            break
        page.wait_for_timeout(100)
    text = path.read_text(encoding="utf-8")
    saved = json.loads(text)
    state = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    panels = [w for w in state.values() if "session_id" in w.get("state", {})]
    assert panels, "the panel's widget state was saved"
    assert set(panels[0]["state"]) >= {"session_id", "status", "password_preset"}
    for form in (password, codes.normalise_password(password)):
        assert form not in text
