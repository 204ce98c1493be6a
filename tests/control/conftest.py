"""Fixtures for the control tests: a real X screen with a German layout and a Tk text field."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from Xlib import display as xdisplay

from zvkdiag.testing.procs import end
from zvkdiag.testing.xvfb import XServer, xvfb

TARGET = Path(__file__).with_name("target.py")
GERMAN = "Grüße ÄÖÜ ß @€{[]}\\|~ ^°`´ 12345"
"""AltGr characters, dead-key characters, umlauts and ß on a German layout."""


@dataclass
class Target:
    server: XServer
    proc: subprocess.Popen[str]

    @property
    def display(self) -> str:
        return self.server.display

    def _ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def text(self) -> str:
        return str(eval(self._ask("text")))  # the target prints repr(); our own process

    def wait_text(self, expected: str, timeout: float = 10.0) -> str:
        """The field's text once it equals ``expected`` (or whatever it holds at the deadline)."""
        deadline = time.monotonic() + timeout
        got = self.text()
        while got != expected and time.monotonic() < deadline:
            time.sleep(0.05)
            got = self.text()
        return got

    def wheel(self) -> tuple[int, int]:
        """Wheel steps the field got so far: (up, down)."""
        up, down = self._ask("wheel").split()
        return int(up), int(down)

    def clear(self) -> None:
        assert self._ask("clear") == "cleared"


def held_down(display_name: str) -> tuple[list[int], int]:
    """Keycodes the X server has down (XQueryKeymap) and the pointer's button mask."""
    d = xdisplay.Display(display_name)
    try:
        keymap = d.query_keymap()
        keys = [8 * i + bit for i, byte in enumerate(keymap) for bit in range(8) if byte >> bit & 1]
        buttons = d.screen().root.query_pointer().mask & 0x1F00
        return keys, buttons
    finally:
        d.close()


@pytest.fixture
def german_screen() -> Iterator[XServer]:
    with xvfb(800, 600) as server:
        subprocess.run(["setxkbmap", "de"], env=server.env(), check=True)
        yield server


@contextmanager
def running_target(screen: XServer) -> Iterator[Target]:
    """The Tk text field on ``screen``, focused, until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, str(TARGET)],
        env={**screen.env(), "LANG": "C.UTF-8"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "shown"
        yield Target(screen, proc)
    finally:
        end(proc)


@pytest.fixture
def target(german_screen: XServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    monkeypatch.setenv("DISPLAY", german_screen.display)
    monkeypatch.setenv("LANG", "C.UTF-8")
    with running_target(german_screen) as t:
        yield t
