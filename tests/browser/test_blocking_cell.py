"""Widgets keep answering while a cell blocks the main thread (ipykernel 7, JupyterLab 4.4+)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from test_quickstart import (  # same folder
    UI_TIMEOUT_MS,
    _select_cell,
    _wait_kernel_idle,
)

from zvkdiag.jupyter.launch import LabServer
from zvkdiag.testing.fakes import AgentThread
from zvkdiag.wire import codes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]

CELLS = [
    "from zvkdiag.widgets import ConnectPanel\npanel = ConnectPanel()\npanel",
    "import time\nt0 = time.monotonic()\ns = panel.wait(timeout=90)\n"
    "print('connected after', round(time.monotonic() - t0), 's')",
]


def _open_and_run_first_cell(
    page: Any, lab: LabServer, folder: Path, name: str, cells: list[str]
) -> None:
    """Write a notebook of ``cells``, open it in JupyterLab and run its first cell."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, folder / name)
    page.goto(lab.notebook_url(name))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=UI_TIMEOUT_MS)
    _wait_kernel_idle(page, lab)
    _select_cell(page, 0)
    page.keyboard.press("Control+Enter")


def _view_cell(agent: AgentThread, relay: Any) -> str:
    """A cell that connects to ``agent`` and shows the screen view."""
    return (
        "import zvkdiag\n"
        f"s = zvkdiag.connect({agent.session_id!r}, {agent.password!r}, "
        f"relay={relay.address!r}, engineer='E')\nview = s.screen()\nview"
    )


def test_connect_click_is_handled_while_a_cell_waits(
    lab: LabServer, page: Any, agent: AgentThread, notebook_dir: Path
) -> None:
    _open_and_run_first_cell(page, lab, notebook_dir, "blocking.ipynb", CELLS)
    panel = page.locator(".zvk-connect")
    panel.wait_for(timeout=UI_TIMEOUT_MS)
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=UI_TIMEOUT_MS
    )

    _select_cell(page, 1)
    page.keyboard.press("Control+Enter")  # blocks in panel.wait() ...
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='busy']", timeout=UI_TIMEOUT_MS
    )
    panel.locator("input[name=session_id]").fill(codes.format_id(agent.session_id))
    panel.locator("input[name=password]").fill(agent.password)
    panel.locator("button[name=connect]").click()  # ... and the click still gets through
    page.wait_for_selector(".zvk-status[data-state='connected']", timeout=UI_TIMEOUT_MS)
    output = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output")
    output.first.wait_for(timeout=UI_TIMEOUT_MS)
    assert "connected after" in output.first.inner_text()


def test_screen_view_acks_flow_while_a_cell_blocks(
    lab: LabServer,
    page: Any,
    relay: Any,
    screen_agent: AgentThread,
    notebook_dir: Path,
    display_env: dict[str, str],
) -> None:
    import subprocess
    import time

    import zvkdiag

    if not hasattr(zvkdiag.Session, "screen"):
        pytest.skip("no screen view")
    cells = [_view_cell(screen_agent, relay), "import time\ntime.sleep(12)"]
    _open_and_run_first_cell(page, lab, notebook_dir, "screen_blocking.ipynb", cells)
    page.wait_for_selector(".jp-OutputArea-output canvas", timeout=UI_TIMEOUT_MS)
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=UI_TIMEOUT_MS
    )
    _select_cell(page, 1)
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='busy']", timeout=UI_TIMEOUT_MS
    )
    session = screen_agent.agent.session
    assert session is not None and session.streams
    streamer = next(iter(session.streams))
    frames_before, timeouts_before = streamer.stats.frames, streamer.stats.ack_timeouts
    for colour in ["#aa0000", "#00aa00", "#0000aa", "#aaaa00", "#00aaaa", "#aa00aa"] * 2:
        subprocess.run(
            ["xsetroot", "-solid", colour], env={"DISPLAY": display_env["DISPLAY"]}, check=True
        )
        time.sleep(0.5)  # the cell is still sleeping all this time
    assert streamer.stats.frames - frames_before >= 10  # every change went out ...
    assert streamer.stats.ack_timeouts == timeouts_before  # ... and was acknowledged in time


def test_canvas_equals_the_customers_screen_pixel_for_pixel(
    lab: LabServer,
    page: Any,
    relay: Any,
    screen_agent: AgentThread,
    notebook_dir: Path,
    display_env: dict[str, str],
) -> None:
    import base64
    import subprocess
    import time

    import mss
    import numpy as np

    xterm = subprocess.Popen(
        [
            "xterm",
            "-geometry",
            "80x20+40+40",
            "-e",
            "sh",
            "-c",
            "printf 'Kunde: Muster GmbH\\nFehler 0x80070005 beim Export\\n'; sleep 120",
        ],
        env={"DISPLAY": display_env["DISPLAY"], "PATH": "/usr/bin:/bin"},
    )
    try:
        time.sleep(1.0)
        cells = [_view_cell(screen_agent, relay)]
        _open_and_run_first_cell(page, lab, notebook_dir, "screen_exact.ipynb", cells)
        page.wait_for_selector(".jp-OutputArea-output canvas", timeout=UI_TIMEOUT_MS)
        with mss.MSS(display=display_env["DISPLAY"], with_cursor=True) as sct:
            want = np.asarray(sct.grab(sct.monitors[0]))[..., 2::-1]  # BGRA -> RGB
        got = None
        for _ in range(60):  # until lossless refinement has replaced every JPEG tile
            page.wait_for_timeout(500)
            data = page.evaluate(
                """() => { const c = document.querySelector('.jp-OutputArea-output canvas');
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
                    let s = ''; const b = d.data;
                    for (let i = 0; i < b.length; i += 32768)
                        s += String.fromCharCode.apply(null, b.subarray(i, i + 32768));
                    return [c.width, c.height, btoa(s)]; }"""
            )
            width, height, blob = data
            rgba = np.frombuffer(base64.b64decode(blob), np.uint8).reshape(height, width, 4)
            got = rgba[..., :3]
            if got.shape == want.shape and np.array_equal(got, want):
                break
        assert got is not None and got.shape == want.shape
        assert np.array_equal(got, want), f"{int((got != want).any(-1).sum())} pixels differ"
    finally:
        xterm.kill()
        xterm.wait()
