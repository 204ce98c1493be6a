"""The kernel→browser hop in real JupyterLab and headless Chromium: exact and lean.

Where JupyterLab runs on a server, the websocket from the kernel to the
engineer's browser is a network link of its own.  The relay and the agent run
in this process; a notebook cell shows ``s.screen()``; then a window with text
and a photo-like picture opens on the customer's screen.  Once it has settled,
the canvas must equal the customer's screen pixel for pixel, and the bytes the
page received on the kernel's websocket for that change (Jupyter's message
envelopes included) must stay within twice what the relay carried towards the
engineer for it (SSH framing included).  The former raw RGBA form took 8.5× here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_blocking_cell import _open_and_run_first_cell, _view_cell
from test_quickstart import UI_TIMEOUT_MS

from zvkdiag.jupyter.launch import LabServer
from zvkdiag.testing.canvas import canvas_pixels, screen_pixels
from zvkdiag.testing.fakes import AgentThread, RelayThread

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CANVAS = ".jp-OutputArea-output canvas"
SETTLE_TIMEOUT = 60.0

WINDOW = """
import sys, tkinter as tk
import numpy as np
root = tk.Tk()
root.overrideredirect(True)
root.geometry("600x400+50+50")
text = tk.Text(root, width=60, height=12, font=("DejaVu Sans", 10))
text.pack(side="top", fill="x")
for i in range(12):
    text.insert("end", f"Zeile {i}: Versicherungsnummer 12 345678 A 901, Antrag {i}\\n")
rng = np.random.default_rng(3)
yy, xx = np.mgrid[0:160, 0:560]
base = np.stack([xx % 256, yy * 255 // 160, (xx + yy) % 256], -1)
noisy = np.clip(base + rng.integers(-30, 30, base.shape), 0, 255).astype(np.uint8)
photo = tk.PhotoImage(data=b"P6 560 160 255 " + noisy.tobytes(), format="ppm")
tk.Label(root, image=photo, bd=0).pack(side="top")
root.update()
print("shown", flush=True)
root.mainloop()
"""


class KernelSocket:
    """Bytes of the websocket frames the page receives on the kernel's channel."""

    def __init__(self, page: Any) -> None:
        self.bytes = 0
        page.on("websocket", self._watch)

    def _watch(self, ws: Any) -> None:
        if "/api/kernels/" in ws.url:
            ws.on("framereceived", self._received)

    def _received(self, payload: str | bytes) -> None:
        self.bytes += len(payload.encode() if isinstance(payload, str) else payload)


def _settled(page: Any, display: str) -> bool:
    """Until the canvas equals the customer's screen (False if it never does)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        if np.array_equal(canvas_pixels(page, CANVAS), screen_pixels(display)):
            return True
        page.wait_for_timeout(250)
    return False


def test_a_settled_change_is_exact_and_costs_the_browser_at_most_twice_the_relay(
    lab: LabServer,
    page: Any,
    relay: RelayThread,
    screen_agent: AgentThread,
    display_env: dict[str, str],
    notebook_dir: Path,
) -> None:
    display = display_env["DISPLAY"]
    socket = KernelSocket(page)
    cell = _view_cell(screen_agent, relay)
    _open_and_run_first_cell(page, lab, notebook_dir, "hop.ipynb", [cell])
    page.wait_for_function(
        f"() => document.querySelector('{CANVAS}')?.width === 1024", timeout=UI_TIMEOUT_MS
    )
    assert _settled(page, display)
    page.wait_for_timeout(500)  # the last acks' replies
    ws_before, relay_before = socket.bytes, relay.relay.bytes_to_engineer

    window = subprocess.Popen(
        [sys.executable, "-c", WINDOW],
        env={**os.environ, **display_env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert window.stdout is not None and window.stdout.readline().strip() == "shown"
        assert _settled(page, display)
        page.wait_for_timeout(500)
        to_browser = socket.bytes - ws_before
        over_relay = relay.relay.bytes_to_engineer - relay_before
    finally:
        window.kill()
        window.wait()
    assert over_relay > 20_000  # the window's text and picture did cross the relay
    assert to_browser <= 2 * over_relay, (to_browser, over_relay)
