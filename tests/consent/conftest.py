"""Fixtures for driving the Tk UI on a real X screen, as a person would.

The test thread is the Tk thread (it pumps Tk's events); the fake agent's
asyncio loop runs in a background thread and calls ``ask``/``show`` from there,
exactly as the real agent does.  Clicks go through the X server with xdotool;
pixels are read back with mss.
"""

from __future__ import annotations

import gc
import shutil
import subprocess
import time
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path

import mss
import numpy as np
import pytest

from zvkdiag.consent.tk_ui import TkUI
from zvkdiag.testing.fakes_ui import AgentLoopThread, RecordingControl
from zvkdiag.testing.xvfb import XServer, xvfb

WIDTH, HEIGHT = 1024, 768


@pytest.fixture(scope="session")
def screen() -> Iterator[XServer]:
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.skip("needs Xvfb and xdotool")
    with xvfb(width=WIDTH, height=HEIGHT) as server:
        yield server


class Driver:
    """Drives one TkUI: pump its events, click its widgets, read the screen."""

    def __init__(self, screen: XServer, ui: TkUI, control: RecordingControl) -> None:
        self.screen, self.ui, self.control = screen, ui, control

    def pump(self, seconds: float = 0.2) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ui.root.update()
            time.sleep(0.01)

    def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Pump Tk until ``condition()`` holds; fail the test if it never does."""
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise AssertionError(f"condition not met within {timeout} s")
            self.ui.root.update()
            time.sleep(0.01)

    def centre(self, widget: tk.Misc) -> tuple[int, int]:
        self.ui.root.update_idletasks()
        return (
            widget.winfo_rootx() + widget.winfo_width() // 2,
            widget.winfo_rooty() + widget.winfo_height() // 2,
        )

    def click_at(self, x: int, y: int) -> None:
        subprocess.run(
            ["xdotool", "mousemove", "--sync", str(x), str(y), "click", "1"],
            env=self.screen.env(),
            check=True,
            timeout=10,
        )

    def click(self, widget: tk.Misc) -> None:
        """Move the real pointer onto ``widget`` and press the left button."""
        self.pump(0.05)
        self.click_at(*self.centre(widget))
        self.pump(0.1)

    def grab(self, left: int, top: int, width: int, height: int) -> np.ndarray:
        """Screen pixels as an (h, w, 3) RGB array."""
        with mss.MSS(display=self.screen.display) as grabber:
            shot = grabber.grab({"left": left, "top": top, "width": width, "height": height})
        bgra = np.frombuffer(shot.bgra, dtype=np.uint8).reshape(shot.height, shot.width, 4)
        return bgra[:, :, 2::-1].copy()

    def grab_widget(self, widget: tk.Misc) -> np.ndarray:
        self.ui.root.update_idletasks()
        return self.grab(
            widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(), widget.winfo_height()
        )

    def window_ids(self, title: str) -> list[str]:
        """X windows whose name matches ``title`` that are mapped (``--onlyvisible``)."""
        done = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", title],
            env=self.screen.env(),
            capture_output=True,
            text=True,
            timeout=10,
        )
        return done.stdout.split()

    @staticmethod
    def colour_share(pixels: np.ndarray, hex_colour: str) -> float:
        """Fraction of pixels that have exactly ``hex_colour`` ("#rrggbb")."""
        rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
        return float(np.all(pixels == rgb, axis=2).mean())

    @staticmethod
    def ink(pixels: np.ndarray) -> np.ndarray:
        """The dark (text) pixels of a light widget, cropped to their bounding box."""
        mask = pixels.astype(int).sum(axis=2) < 3 * 100
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            return mask[:0, :0]
        return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


@pytest.fixture
def agent_loop() -> Iterator[AgentLoopThread]:
    with AgentLoopThread() as loop:
        yield loop


_INTERPRETERS: list[object] = []
"""Tcl interpreters of finished tests, kept so that only this thread frees them."""


@pytest.fixture
def make_ui(screen: XServer) -> Iterator[Callable[..., Driver]]:
    drivers: list[Driver] = []

    def make(lang: str = "de", *, audit_path: Path | None = None) -> Driver:
        control = RecordingControl()
        ui = TkUI(lang, control, audit_path=audit_path, screen_name=screen.display)
        driver = Driver(screen, ui, control)
        drivers.append(driver)
        driver.pump(0.1)
        return driver

    yield make
    for driver in drivers:
        driver.ui.close()
        driver.ui.destroy()
        # The Tcl interpreter is deleted when its tkapp object is freed.  Some other
        # object (a ticket's callback, a leftover coroutine) may keep a TkUI alive past
        # this test and let a later test's loop thread free it, and Tcl then aborts the
        # whole run ("Tcl_AsyncDelete: async handler deleted by the wrong thread").  So
        # every interpreter stays referenced here until the run ends in this thread.
        _INTERPRETERS.append(driver.ui.root.tk)
    drivers.clear()
    gc.collect()


@pytest.fixture
def driver(make_ui: Callable[..., Driver]) -> Driver:
    return make_ui("de")
