"""Seeing and touching another process's Tk windows: xdotool for input, mss for pixels.

The program under test is a separate process, so nothing here can ask Tk
where a widget is.  Windows are found by the titles the UI sets; inside a
window, widgets are found by their colours (the theme's colours are named
for that purpose) and by the order the layout puts them in.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import mss
import numpy as np
import numpy.typing as npt

from zvkdiag.consent import tk_theme as theme
from zvkdiag.consent.messages import text
from zvkdiag.testing.xvfb import XServer

__all__ = [
    "DIALOG",
    "INDICATOR",
    "MAIN",
    "Mask",
    "Pixels",
    "Screen",
    "Window",
    "button_centres",
    "colour_share",
    "ink",
    "white_boxes",
]

Pixels = npt.NDArray[np.uint8]
"""Screen pixels as an (height, width, 3) RGB array."""
Mask = npt.NDArray[np.bool_]
"""One flag per pixel (or per row or column)."""


def title_pattern(title: str) -> str:
    """An anchored POSIX regex for a window title; xdotool matches bytes, so
    a non-ASCII character (the dash in "… – Anfrage") may be encoded any way: match it loosely."""
    body = "".join(
        ".*" if ord(c) > 127 else (f"[{c}]" if c in ".^$*+?()[]{}|\\" else c) for c in title
    )
    return f"^{body}$"


MAIN: Final = title_pattern(text("app.title", "de"))
DIALOG: Final = title_pattern(text("dialog.title", "de"))
INDICATOR: Final = title_pattern(text("indicator.title", "de"))

BUTTON_GREYS: Final = ("#d9d9d9", "#ececec")
"""Tk's push-button face on X11, normally and while the pointer is on it."""
MIN_BUTTON: Final = 20
"""Narrowest face (pixels) that counts as a button, and its least height."""
MIN_BOX: Final = 20
"""Least height of a white box (a code label or the message area)."""
PARK: Final = (1000, 10)
"""Where the pointer rests between clicks: bare root window, hovering no button."""
POLL: Final = 0.05
WAIT: Final = 20.0
"""Upper bound for a window to appear or go; generous, the machine is shared."""


@dataclass(frozen=True)
class Window:
    """A mapped top-level X window and where it is on the screen."""

    wid: str
    left: int
    top: int
    width: int
    height: int


class Screen:
    """One Xvfb screen, driven through the X server like a person at the desk."""

    button_greys: tuple[str, ...] = BUTTON_GREYS
    """Colours of a push button's face (Tk on X11; Tk under Wine draws others)."""

    def __init__(self, server: XServer) -> None:
        self.server = server

    @property
    def display(self) -> str:
        return self.server.display

    def xdotool(self, *args: str) -> str:
        done = subprocess.run(
            ["xdotool", *args],
            env=self.server.env(),
            capture_output=True,
            text=True,
            timeout=10,
        )
        return done.stdout

    def windows(self, title: str) -> list[Window]:
        """Mapped windows whose name matches the regular expression ``title``."""
        found = []
        for wid in self.xdotool("search", "--onlyvisible", "--name", title).split():
            shell = self.xdotool("getwindowgeometry", "--shell", wid)
            values = dict(line.split("=", 1) for line in shell.split() if "=" in line)
            if {"X", "Y", "WIDTH", "HEIGHT"} <= values.keys():
                found.append(
                    Window(
                        wid,
                        int(values["X"]),
                        int(values["Y"]),
                        int(values["WIDTH"]),
                        int(values["HEIGHT"]),
                    )
                )
        return found

    def window(self, title: str, timeout: float = WAIT) -> Window:
        """Wait until exactly one window matching ``title`` is on screen."""
        box: list[Window] = []

        def one() -> bool:
            box[:] = self.windows(title)
            return len(box) == 1

        until(one, timeout, f"one window named {title!r}")
        return box[0]

    def gone(self, title: str, timeout: float = WAIT) -> None:
        until(lambda: not self.windows(title), timeout, f"no window named {title!r}")

    def grab(self, left: int, top: int, width: int, height: int) -> Pixels:
        with mss.MSS(display=self.display) as grabber:
            shot = grabber.grab({"left": left, "top": top, "width": width, "height": height})
        bgra = np.frombuffer(shot.bgra, dtype=np.uint8).reshape(shot.height, shot.width, 4)
        return bgra[:, :, 2::-1].copy()

    def grab_window(self, win: Window) -> Pixels:
        return self.grab(win.left, win.top, win.width, win.height)

    def click(self, x: int, y: int) -> None:
        """Press and release the left button at ``(x, y)``, then park the pointer."""
        self.xdotool("mousemove", "--sync", str(x), str(y), "click", "1")
        self.xdotool("mousemove", str(PARK[0]), str(PARK[1]))

    def buttons(self, win: Window) -> list[tuple[int, int]]:
        """Screen centres of the push buttons in the lowest button row of ``win``."""
        centres = button_centres(self.grab_window(win), self.button_greys)
        return [(win.left + x, win.top + y) for x, y in centres]

    def press(self, title: str, index: int, count: int) -> None:
        """Click button ``index`` of the ``count`` in the one window named ``title``.

        Clicks only once two looks in a row agree: a new window is mapped
        first and moved to its place after (the dialog centres itself).
        """
        seen: list[tuple[Window, list[tuple[int, int]]] | None] = [None]
        box: list[tuple[int, int]] = []

        def steady() -> bool:
            wins = self.windows(title)
            look = (wins[0], self.buttons(wins[0])) if len(wins) == 1 else None
            agreed = look is not None and look == seen[0] and len(look[1]) == count
            seen[0] = look
            if agreed and look is not None:
                box[:] = look[1]
            return agreed

        until(steady, WAIT, f"{count} buttons steady in {title!r}")
        self.click(*box[index])

    def lower_right(self) -> float:
        """Share of indicator orange in the screen's lower right corner."""
        w, h = self.server.width, self.server.height
        return colour_share(self.grab(w - 320, h - 90, 320, 90), theme.INDICATOR)

    def send_delete(self, win: Window) -> None:
        """What a window manager's close button does: a WM_DELETE_WINDOW client message."""
        send_wm_delete(self.display, int(win.wid))


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` if it never does."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(POLL)


# -- pixels ----------------------------------------------------------------------------


def _rgb(hex_colour: str) -> Pixels:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)


def colour_mask(pixels: Pixels, *hex_colours: str) -> Mask:
    mask = np.zeros(pixels.shape[:2], dtype=bool)
    for colour in hex_colours:
        mask |= np.all(pixels == _rgb(colour), axis=2)
    return mask


def colour_share(pixels: Pixels, hex_colour: str) -> float:
    """Fraction of ``pixels`` that have exactly ``hex_colour`` ("#rrggbb")."""
    return float(colour_mask(pixels, hex_colour).mean()) if pixels.size else 0.0


def ink(pixels: Pixels) -> Mask:
    """The dark (text) pixels of a light area, cropped to their bounding box."""
    mask: Mask = np.asarray(pixels.astype(int).sum(axis=2) < 3 * 100, dtype=bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return mask[:0, :0]
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def same_ink(a: Mask, b: Mask) -> bool:
    return a.size > 0 and a.shape == b.shape and bool((a == b).all())


def runs(line: Mask, least: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of the runs of True in ``line`` at least ``least`` long."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], line.astype(np.int8), [0]))))
    return [
        (int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= least
    ]


def button_centres(pixels: Pixels, greys: tuple[str, ...] = BUTTON_GREYS) -> list[tuple[int, int]]:
    """Centres of the grey button faces in the lowest row of buttons, left to right.

    A face is a band of rows that are at least ``MIN_BUTTON`` pixels grey; its
    first row lies above the caption, so there each button is one clean run.
    """
    mask = colour_mask(pixels, *greys)
    rows = runs(np.asarray(mask.sum(axis=1) >= MIN_BUTTON, dtype=bool), MIN_BUTTON // 2)
    if not rows:
        return []
    top, bottom = rows[-1]
    middle = (top + bottom) // 2
    return [((a + b) // 2, middle) for a, b in runs(mask[top], MIN_BUTTON)]


def white_boxes(pixels: Pixels) -> list[Pixels]:
    """The main window's white boxes top to bottom: ID, password, messages.

    A box row has white at both of its ends (the widgets' padding), which
    neither the title band's white text nor a line of black text has; each
    box is cut to the columns that have white at all.
    """
    white = colour_mask(pixels, theme.CODE_BG)
    edge = max(1, pixels.shape[1] // 10)
    rows: Mask = np.logical_and(white[:, :edge].any(axis=1), white[:, -edge:].any(axis=1))
    boxes = []
    for top, bottom in runs(rows, MIN_BOX):
        cols = np.flatnonzero(white[top:bottom].any(axis=0))
        boxes.append(pixels[top:bottom, cols[0] : cols[-1] + 1])
    return boxes


# -- a window manager's close button, without a window manager ---------------------------


class _ClientMessage(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _ClientMessage), ("pad", ctypes.c_long * 24)]


_CLIENT_MESSAGE: Final = 33
_NO_EVENT_MASK: Final = 0


def send_wm_delete(display: str, window: int) -> None:
    """Send ``WM_PROTOCOLS``/``WM_DELETE_WINDOW`` to ``window`` (Xlib through ctypes)."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_int,
        ctypes.c_long,
        ctypes.POINTER(_XEvent),
    ]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.encode())
    if not dpy:
        raise AssertionError(f"cannot open display {display}")
    try:
        event = _XEvent()
        msg = event.xclient
        msg.type, msg.send_event, msg.display, msg.window = _CLIENT_MESSAGE, 1, dpy, window
        msg.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        msg.format = 32
        msg.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        x11.XSendEvent(dpy, window, 0, _NO_EVENT_MASK, ctypes.byref(event))
        x11.XFlush(dpy)
    finally:
        x11.XCloseDisplay(dpy)
