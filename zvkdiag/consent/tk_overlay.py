"""What the customer sees on the whole screen while the engineer acts: a frame and a marker.

- ``ControlFrame``: a thin orange frame around every monitor while remote
  control is active (like the peers' frame), always on top;
- ``PointerMarker``: a large ring where the engineer points, drawn only.

Both are click-through on X11 (an empty XShape input region), so they never
catch a click meant for the program below.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tkinter as tk
from typing import Any, Final

from zvkdiag.consent import tk_theme as theme

__all__ = ["FRAME_WIDTH", "ControlFrame", "PointerMarker", "monitor_boxes", "toplevel_xids"]

log = logging.getLogger(__name__)

FRAME_WIDTH: Final = 6
MARKER_SIZE: Final = 72
Box = tuple[int, int, int, int]


def monitor_boxes(root: tk.Misc) -> list[Box]:
    """(left, top, width, height) of each monitor; the whole screen where they are unknown."""
    try:
        import mss

        with mss.MSS() as sct:
            boxes = [(m["left"], m["top"], m["width"], m["height"]) for m in sct.monitors[1:]]
        if boxes:
            return boxes
    except Exception:  # no mss backend here: one box for the whole screen
        log.debug("monitors unknown; framing the whole screen", exc_info=True)
    return [(0, 0, root.winfo_screenwidth(), root.winfo_screenheight())]


def _click_through(window: tk.Toplevel) -> None:
    """Give ``window`` an empty input shape: clicks go to whatever lies below."""
    if sys.platform == "win32":
        return
    try:
        from Xlib import display
        from Xlib.ext import shape

        window.update_idletasks()
        d = display.Display(window.winfo_screen())
        try:
            for xid in toplevel_xids(d, window.winfo_id()):
                d.create_resource_object("window", xid).shape_rectangles(
                    shape.SO.Set, shape.SK.Input, 0, 0, 0, []
                )
            d.sync()
        finally:
            d.close()
    except Exception:  # a frame that catches clicks on 6 px is still better than none
        log.warning("the overlay could not be made click-through", exc_info=True)


def toplevel_xids(d: Any, xid: int) -> list[int]:
    """``xid`` and its ancestors below the root (Tk wraps each toplevel in a window of its own)."""
    root = d.screen().root.id
    chain = [xid]
    while (parent := d.create_resource_object("window", chain[-1]).query_tree().parent.id) != root:
        chain.append(parent)
    return chain


def _overlay(root: tk.Misc, name: str, colour: str) -> tk.Toplevel:
    window = tk.Toplevel(root, name=name, background=colour)
    window.overrideredirect(True)
    window.attributes("-topmost", True)
    window.withdraw()
    return window


class ControlFrame:
    """Four thin topmost windows along the edges of each monitor."""

    def __init__(self, root: tk.Misc) -> None:
        self.root = root
        self.windows: list[tk.Toplevel] = []
        self.visible = False

    def show(self) -> None:
        if self.visible:
            return
        w = FRAME_WIDTH
        for m, (left, top, width, height) in enumerate(monitor_boxes(self.root)):
            edges = (
                (left, top, width, w),
                (left, top + height - w, width, w),
                (left, top, w, height),
                (left + width - w, top, w, height),
            )
            for e, (x, y, ew, eh) in enumerate(edges):
                window = _overlay(self.root, f"frame{m}_{e}", theme.INDICATOR)
                window.geometry(f"{ew}x{eh}+{x}+{y}")
                window.deiconify()
                _click_through(window)
                self.windows.append(window)
        self.visible = True

    def hide(self) -> None:
        for window in self.windows:
            with contextlib.suppress(tk.TclError):
                window.destroy()
        self.windows.clear()
        self.visible = False

    def lift(self) -> None:
        for window in self.windows:
            window.lift()


class PointerMarker:
    """A large red ring with a cross at the point the engineer shows; it never clicks."""

    def __init__(self, root: tk.Misc) -> None:
        self.window = _overlay(root, "pointer", theme.BG)
        size = MARKER_SIZE
        canvas = tk.Canvas(
            self.window, width=size, height=size, highlightthickness=0, background=theme.BG
        )
        canvas.pack()
        canvas.create_oval(4, 4, size - 4, size - 4, outline=theme.WARNING, width=6)
        canvas.create_line(size // 2, 12, size // 2, size - 12, fill=theme.WARNING, width=3)
        canvas.create_line(12, size // 2, size - 12, size // 2, fill=theme.WARNING, width=3)
        self.position: tuple[int, int] | None = None
        self._shaped = False

    def show(self, position: tuple[int, int] | None) -> None:
        self.position = position
        if position is None:
            self.window.withdraw()
            return
        x, y = position
        half = MARKER_SIZE // 2
        self.window.geometry(f"{MARKER_SIZE}x{MARKER_SIZE}+{x - half}+{y - half}")
        self.window.deiconify()
        self.window.lift()
        if not self._shaped:
            _click_through(self.window)
            self._shaped = True
