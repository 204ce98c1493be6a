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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_blocking_cell import _open_and_run_first_cell, _view_cell
from test_quickstart import UI_TIMEOUT_MS

from zvkdiag.jupyter.launch import LabServer
from zvkdiag.testing.canvas import canvas_pixels, screen_pixels
from zvkdiag.testing.fakes import AgentThread, RelayThread
from zvkdiag.testing.procs import end

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


SPINNER = """
import sys, tkinter as tk
root = tk.Tk()
root.overrideredirect(True)
root.geometry("240x240+600+300")
canvas = tk.Canvas(root, width=240, height=240, bg="white", highlightthickness=0)
canvas.pack()
arc = canvas.create_arc(20, 20, 220, 220, start=0, extent=90, width=12, style="arc")
ticks = [0]
def tick():
    ticks[0] += 1
    canvas.itemconfigure(arc, start=(14 * ticks[0]) % 360)
    if ticks[0] < 75:
        root.after(40, tick)
    else:
        print("done", flush=True)
root.update()
print("shown", flush=True)
root.after(0, tick)
root.mainloop()
"""

# Every frame the page draws, counted from the moment this runs.
COUNT_DRAWN = """(sel) => {
  window.zvkDrawn = 0;
  document.querySelector(sel).addEventListener('zvk:drawn', () => { window.zvkDrawn += 1; });
}"""


class KernelSocket:
    """Bytes of the websocket frames the page receives on the kernel's channel; messages sent."""

    def __init__(self, page: Any) -> None:
        self.bytes = 0
        self.sent = 0
        page.on("websocket", self._watch)

    def _watch(self, ws: Any) -> None:
        if "/api/kernels/" in ws.url:
            ws.on("framereceived", self._received)
            ws.on("framesent", self._sent)

    def _sent(self, _payload: str | bytes) -> None:
        self.sent += 1

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


@pytest.fixture
def view_socket(
    lab: LabServer,
    page: Any,
    relay: RelayThread,
    screen_agent: AgentThread,
    display_env: dict[str, str],
    notebook_dir: Path,
) -> KernelSocket:
    """A notebook shows the screen view, and the canvas is exact: the page's kernel socket."""
    socket = KernelSocket(page)
    cell = _view_cell(screen_agent, relay)
    _open_and_run_first_cell(page, lab, notebook_dir, "hop.ipynb", [cell])
    page.wait_for_function(
        f"() => document.querySelector('{CANVAS}')?.width === 1024", timeout=UI_TIMEOUT_MS
    )
    assert _settled(page, display_env["DISPLAY"])
    return socket


@contextmanager
def _showing(script: str, display_env: dict[str, str]) -> Iterator[Any]:
    """A Tk window on the customer's screen, once it printed "shown"; its stdout."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env={**os.environ, **display_env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "shown"
        yield proc.stdout
    finally:
        end(proc)


def test_a_settled_change_is_exact_and_costs_the_browser_at_most_twice_the_relay(
    page: Any, relay: RelayThread, display_env: dict[str, str], view_socket: KernelSocket
) -> None:
    display, socket = display_env["DISPLAY"], view_socket
    page.wait_for_timeout(500)  # the last acks' replies
    ws_before, relay_before = socket.bytes, relay.relay.bytes_to_engineer
    with _showing(WINDOW, display_env):
        assert _settled(page, display)
        page.wait_for_timeout(500)
        to_browser = socket.bytes - ws_before
        over_relay = relay.relay.bytes_to_engineer - relay_before
    assert over_relay > 20_000  # the window's text and picture did cross the relay
    assert to_browser <= 2 * over_relay, (to_browser, over_relay)


def test_the_page_acknowledges_many_drawn_frames_at_once(
    page: Any, display_env: dict[str, str], view_socket: KernelSocket
) -> None:
    display, socket = display_env["DISPLAY"], view_socket
    page.evaluate(COUNT_DRAWN, CANVAS)
    with _showing(SPINNER, display_env) as spinner:
        sent_before = socket.sent
        assert spinner.readline().strip() == "done"  # 75 turns, 40 ms apart
        assert _settled(page, display)  # every frame drawn, exactly
        drawn = page.evaluate("window.zvkDrawn")
        sent = socket.sent - sent_before
    assert drawn >= 20, drawn  # the spinner did turn in the page
    assert sent <= drawn / 3, (sent, drawn)  # one ack for several frames (the former way: one each)
