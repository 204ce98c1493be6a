"""A second window the test draws itself, with the program's fonts, to compare text by pixels.

No OCR: the same Tk with the same fonts on the same X server draws the same
pixels, so "the window shows 123 456 789" becomes "its ink equals the ink of
123 456 789 drawn here".  The drawing happens in a short-lived child process
(``draw.py``), so no X connection of the test process outlives a test's Xvfb.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from .driver import Screen, ink

__all__ = ["Ink", "Reference"]

Ink = npt.NDArray[np.bool_]
DRAW: Final = Path(__file__).with_name("draw.py")


class Reference:
    """Draws texts on the program's screen as the program draws them; returns their ink."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen

    def draw(self, *jobs: tuple[str, str, int]) -> list[Ink]:
        """Ink of each ``(kind, text, width)``: kind ``code`` (ID, password) or ``message``."""
        done = subprocess.run(
            [sys.executable, str(DRAW), self.screen.display],
            input=json.dumps(jobs),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        shots = json.loads(done.stdout)
        return [ink(_pixels(shot)) for shot in shots]

    def codes(self, *values: str) -> list[Ink]:
        """Ink of IDs or passwords as the main window shows them."""
        return self.draw(*(("code", value, 0) for value in values))

    def notice(self, value: str) -> Ink:
        """Ink of the main window's red notice line showing ``value``."""
        return self.draw(("notice", value, 0))[0]

    def message(self, value: str, width: int) -> Ink:
        """Ink of one line added to a message area ``width`` white pixels wide (wrapped alike)."""
        return self.draw(("message", value, width))[0]


def _pixels(shot: dict[str, object]) -> npt.NDArray[np.uint8]:
    raw = base64.b64decode(str(shot["rgb"]))
    shape = tuple(int(n) for n in shot["shape"])  # type: ignore[attr-defined]
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)
