"""Re-running the connect cell in real JupyterLab: the open session is taken over or closed.

The engineer runs the panel's cell, connects, then runs the same cell again
(as one does in a notebook) and presses Connect for the same customer.  The
new panel offers "Take over" and "Close it and connect again"; both are
pressed in Chromium, and the customer's agent (a real one, in this process)
says what became of its session.  A failed connect makes ``panel.wait()``
raise in the cell at once instead of blocking it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_blocking_cell import _open_and_run_first_cell  # same folder
from test_quickstart import UI_TIMEOUT_MS, _select_cell  # same folder

from zvkdiag.consent.audit import read_records
from zvkdiag.jupyter.launch import LabServer
from zvkdiag.testing.fakes import AgentThread, RelayThread
from zvkdiag.wire import codes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CONNECT_CELL = (
    "import zvkdiag\nfrom zvkdiag.widgets import ConnectPanel\npanel = ConnectPanel()\npanel"
)
FIRST_CELL = "first = panel.wait(timeout=60)\nprint('open:', len(zvkdiag.sessions()))"
AGAIN_CELL = (
    "s = panel.wait(timeout=60)\n"
    "print('same:', s is first, '| open:', len(zvkdiag.sessions()),"
    " '| first closed:', first.closed)"
)
WAIT_CELL = "s = panel.wait()\nprint('got a session')"


def _run_cell(page: Any, index: int) -> Any:
    """Run cell ``index`` and return its output area once the kernel is idle again."""
    _select_cell(page, index)
    page.keyboard.press("Control+Enter")
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-OutputArea-output").first.wait_for(timeout=UI_TIMEOUT_MS)
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=UI_TIMEOUT_MS
    )
    return cell.locator(".jp-OutputArea")


def _press_connect(page: Any, session_id: str, password: str) -> Any:
    panel = page.locator(".zvk-connect")
    panel.wait_for(timeout=UI_TIMEOUT_MS)
    panel.locator("input[name=session_id]").fill(codes.format_id(session_id))
    panel.locator("input[name=password]").fill(password)
    panel.locator("button[name=connect]").click()
    return panel


def _state(page: Any, state: str) -> None:
    page.wait_for_selector(f".zvk-status[data-state='{state}']", timeout=UI_TIMEOUT_MS)


def _kinds(agent: AgentThread) -> list[str]:
    log = agent.agent.audit_log
    assert log is not None
    return [str(r["kind"]) for r in read_records(log.path)]


def _connect_then_run_the_cell_again(
    page: Any, lab: LabServer, agent: AgentThread, folder: Path
) -> Any:
    """Connect from the panel, then re-run the panel's cell and press Connect: 'busy'."""
    cells = [CONNECT_CELL, FIRST_CELL, AGAIN_CELL]
    _open_and_run_first_cell(page, lab, folder, "again.ipynb", cells)
    _press_connect(page, agent.session_id, agent.password)
    _state(page, "connected")
    assert "open: 1" in _run_cell(page, 1).inner_text()
    before = agent.agent.session
    assert before is not None

    _select_cell(page, 0)
    page.keyboard.press("Control+Enter")  # a new panel replaces the old one's output
    page.wait_for_selector(".zvk-status[data-state='idle']", timeout=UI_TIMEOUT_MS)
    panel = _press_connect(page, agent.session_id, agent.password)
    _state(page, "busy")
    assert "already open in this kernel" in panel.locator(".zvk-status").inner_text()
    assert panel.locator("button[name=take-over]").is_visible()
    assert panel.locator("button[name=close-existing]").is_visible()
    return panel


def test_take_over_keeps_the_one_open_session(
    lab: LabServer, page: Any, agent: AgentThread, notebook_dir: Path
) -> None:
    panel = _connect_then_run_the_cell_again(page, lab, agent, notebook_dir)
    session = agent.agent.session
    panel.locator("button[name=take-over]").click()
    _state(page, "connected")

    out = _run_cell(page, 2).inner_text()
    assert "same: True | open: 1 | first closed: False" in out
    assert agent.agent.session is session and not session.ended.is_set()
    kinds = _kinds(agent)
    assert kinds.count("session-connected") == 1
    assert "session-ended" not in kinds


def test_close_it_and_connect_again_with_the_new_password(
    lab: LabServer, page: Any, agent: AgentThread, notebook_dir: Path
) -> None:
    old = agent.password
    panel = _connect_then_run_the_cell_again(page, lab, agent, notebook_dir)
    first = agent.agent.session
    assert first is not None
    panel.locator("button[name=close-existing]").click()
    _state(page, "idle")
    assert "is closed" in panel.locator(".zvk-status").inner_text()
    assert first.ended.is_set() and first.end_reason == "engineer"
    log = agent.agent.audit_log
    assert log is not None
    ended = [r for r in read_records(log.path) if r["kind"] == "session-ended"]
    assert [r["reason"] for r in ended] == ["engineer"]

    new = agent.fresh_password(old)
    assert new != old
    panel.locator("input[name=password]").fill(new)
    panel.locator("button[name=connect]").click()
    _state(page, "connected")
    out = _run_cell(page, 2).inner_text()
    assert "same: False | open: 1 | first closed: True" in out
    second = agent.agent.session
    assert second is not None and second is not first and not second.ended.is_set()
    assert _kinds(agent).count("session-connected") == 2


def test_wait_after_a_failed_connect_raises_in_the_cell(
    lab: LabServer, page: Any, relay: RelayThread, agent: AgentThread, notebook_dir: Path
) -> None:
    unknown = next(i for i in iter(codes.new_id, None) if i != agent.session_id)
    _open_and_run_first_cell(page, lab, notebook_dir, "failed.ipynb", [CONNECT_CELL, WAIT_CELL])
    panel = _press_connect(page, unknown, agent.password)
    _state(page, "failed")
    assert "No customer is waiting" in panel.locator(".zvk-status").inner_text()

    _raised_peer_not_found(_run_cell(page, 1))  # _run_cell returns once the cell has ended


def test_a_waiting_cell_raises_when_the_connect_fails(
    lab: LabServer, page: Any, relay: RelayThread, agent: AgentThread, notebook_dir: Path
) -> None:
    unknown = next(i for i in iter(codes.new_id, None) if i != agent.session_id)
    _open_and_run_first_cell(page, lab, notebook_dir, "waiting.ipynb", [CONNECT_CELL, WAIT_CELL])
    page.locator(".zvk-connect").wait_for(timeout=UI_TIMEOUT_MS)
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=UI_TIMEOUT_MS
    )
    _select_cell(page, 1)
    page.keyboard.press("Control+Enter")  # blocks in panel.wait() ...
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='busy']", timeout=UI_TIMEOUT_MS
    )
    _press_connect(page, unknown, agent.password)  # ... until this attempt fails
    _state(page, "failed")
    cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
    cell.locator(".jp-OutputArea-output").first.wait_for(timeout=UI_TIMEOUT_MS)
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=UI_TIMEOUT_MS
    )
    _raised_peer_not_found(cell.locator(".jp-OutputArea"))


def _raised_peer_not_found(out: Any) -> None:
    """The cell's output is the PeerNotFound traceback and nothing it would have printed."""
    assert out.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 1
    assert out.locator("[data-mime-type='application/vnd.jupyter.stdout']").count() == 0
    assert "PeerNotFound: No customer is waiting under ID" in out.inner_text()
