"""Fixtures for the screen tests: a small real X screen, with and without a Tk scene."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import mss
import pytest

from zvkdiag.testing.procs import end
from zvkdiag.testing.xvfb import XServer, xvfb

from .scenes import TK_SCENE


@pytest.fixture
def screen() -> Iterator[XServer]:
    """A small real X screen, with one connection open for the whole test."""
    with xvfb(640, 480) as server, mss.MSS(display=server.display):
        yield server


@dataclass
class Scene:
    """The small X screen showing a Tk window: text, a photo-like image, a status line."""

    server: XServer
    proc: subprocess.Popen[str]

    @property
    def display(self) -> str:
        return self.server.display

    def say(self, text: str) -> None:
        """Show ``text`` in the status line and wait until Tk has drawn it."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "done"


@pytest.fixture
def scene(screen: XServer) -> Iterator[Scene]:
    text = "\n".join(f"line {i}: zvkdiag screen view test" for i in range(8))
    proc = subprocess.Popen(
        [sys.executable, "-c", TK_SCENE, text],
        env=screen.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "shown"
        time.sleep(0.3)  # let Tk finish painting after the first idle
        yield Scene(screen, proc)
    finally:
        end(proc)
