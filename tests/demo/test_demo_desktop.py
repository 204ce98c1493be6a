"""The demo's virtual screen shows a desktop and the customer's own window, not black."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mss
import numpy as np
import pytest
from e2e_tk.driver import DIALOG, INDICATOR, MAIN, Screen, white_boxes  # tests/ is on sys.path

import zvkdiag
from zvkdiag.consent.messages import text
from zvkdiag.demo import desktop
from zvkdiag.testing.xvfb import XServer, xvfb

pytestmark = pytest.mark.x11


def _grab(display: str) -> np.ndarray:
    with mss.MSS(display=display) as sct:
        return np.asarray(sct.grab(sct.monitors[0]))[..., :3]


@pytest.mark.skipif(not shutil.which("xsetroot"), reason="xsetroot is not installed")
def test_the_virtual_screen_has_a_background_and_windows() -> None:
    with xvfb(800, 600) as x, desktop(x.display):
        deadline = time.monotonic() + 15
        while True:
            pixels = _grab(x.display)
            colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
            if colours > 8 or time.monotonic() > deadline:  # text and a clock face drawn
                break
            time.sleep(0.1)
    assert pixels.mean() > 20  # not black
    assert colours > 8  # more than a flat background: programs' windows are on it


class Demo:
    """``python -m zvkdiag.demo`` without a display; its terminal lines are collected."""

    def __init__(self, tmp_path: Path) -> None:
        env = {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
            "IPYTHONDIR": str(tmp_path / "ipython"),
        }
        env.pop("DISPLAY", None)
        workdir = tmp_path / "nb"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zvkdiag.demo", "--lang", "de", "--workdir", str(workdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env=env,
        )
        self.text = ""
        self._lock = threading.Lock()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.text += line

    def expect(self, pattern: str, timeout: float = 90.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = re.search(pattern, self.text, re.MULTILINE)
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not seen; the terminal shows:\n{self.text}")


@pytest.mark.timeout(180)
@pytest.mark.skipif(not shutil.which("xdotool"), reason="xdotool is not installed")
def test_the_virtual_screen_shows_the_customers_window(tmp_path: Path) -> None:
    demo = Demo(tmp_path)
    try:
        display = demo.expect(r"virtual screen \(Xvfb\) on (:\d+)").group(1)
        relay = demo.expect(r"Relay listening on (\S+)").group(1)
        session_id = demo.expect(r"^ID: (\d{3} \d{3} \d{3})$").group(1)
        password = demo.expect(r"^Password: (\S+)$").group(1)  # still in the terminal
        screen = Screen(XServer(display, 1920, 1080))
        main = screen.window(MAIN)  # the customer's own window ...
        assert len(white_boxes(screen.grab_window(main))) == 3  # ... with ID, password, messages
        demo.expect(r"http://127\.0\.0\.1:\d+/lab/tree/")

        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                zvkdiag.connect, session_id, password, relay=relay, engineer="Erika Muster"
            )
            demo.expect(r"^\[\?\] ")  # the question in the terminal ...
            screen.press(DIALOG, 0, 2)  # ... and in the window, where "Erlauben" answers it
            session = pending.result(60)
        demo.expect(f"^{re.escape(text('decision.allow', 'de'))}$")  # the terminal is told
        screen.window(INDICATOR)
        assert screen.lower_right() > 0.2  # the indicator's orange at the lower right
        session.close()
        screen.gone(INDICATOR)

        demo.proc.send_signal(signal.SIGINT)
        assert demo.proc.wait(30) == 0
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait()
