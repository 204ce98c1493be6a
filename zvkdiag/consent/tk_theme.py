"""Colours, fonts and timings of the Tk UI, named in one place.

The colours double as test fixtures: the ZVK blue band marks the main window
and consent dialogs, the signal orange marks the session indicator, so tests
(and the customer) recognise each window by its colour alone.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import font as tkfont
from typing import Final

__all__ = [
    "BAND",
    "BAND_TEXT",
    "BG",
    "CODE_BG",
    "INDICATOR",
    "LIFT_MS",
    "POLL_MS",
    "TICK_MS",
    "WARNING",
    "Fonts",
]

BAND: Final = "#0b4f8a"
"""ZVK blue: the header band of the main window and of every consent dialog."""
BAND_TEXT: Final = "#ffffff"
BG: Final = "#f4f6f8"
INDICATOR: Final = "#e8590c"
"""Signal orange: the session indicator at the lower right."""
WARNING: Final = "#c00000"
"""Red: unverified engineer, failed sign-in attempts."""
CODE_BG: Final = "#ffffff"

POLL_MS: Final = 40
"""How often the Tk thread takes work from the agent thread's queue."""
LIFT_MS: Final = 1000
"""How often the indicator and an open dialog are raised again (no WM enforces topmost)."""
TICK_MS: Final = 1000
"""Countdown refresh in a consent dialog."""


class Fonts:
    """Named fonts derived from Tk's platform defaults (so they exist everywhere)."""

    def __init__(self, root: tk.Misc) -> None:
        base = tkfont.nametofont("TkDefaultFont", root=root)
        fixed = tkfont.nametofont("TkFixedFont", root=root)
        self.normal = base.copy()
        self.normal.configure(size=11)
        self.bold = base.copy()
        self.bold.configure(size=11, weight="bold")
        self.title = base.copy()
        self.title.configure(size=14, weight="bold")
        self.code = fixed.copy()
        self.code.configure(size=28, weight="bold")
        self.mono = fixed.copy()
        self.mono.configure(size=11)
