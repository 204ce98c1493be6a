"""The one interface every input backend implements, and how the agent picks one.

Two implementations: X11 through XTEST (``zvkdiag.control.x11``, live) and
Windows through ``SendInput`` (``zvkdiag.control.win32``).  Coordinates are
pixels of the whole virtual screen; the injector adds the viewed monitor's
offset.  A backend is used from one thread at a time (the agent's loop).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Protocol

from zvkdiag._errors import ControlUnavailable

__all__ = ["ActivityWatcher", "InputBackend", "open_backend", "open_watcher"]


class InputBackend(Protocol):
    def move(self, x: int, y: int) -> None:
        """Put the pointer at (x, y) of the virtual screen."""

    def button(self, button: int, down: bool) -> None:
        """Press or release button 1 (left), 2 (middle) or 3 (right)."""

    def wheel(self, dx: int, dy: int) -> None:
        """Turn the wheel by whole notches (dy < 0: up, dx < 0: left)."""

    def key_of_code(self, code: str) -> int:
        """The backend's key id for a ``KeyboardEvent.code`` (an X keycode, a scancode)."""

    def key_of_keysym(self, keysym: int) -> tuple[int, tuple[int, ...]]:
        """The key that types ``keysym`` and the modifier keys it needs (may bind a spare key)."""

    def key(self, key: int, down: bool) -> None:
        """Press or release one key by its id."""

    def type_text(self, text: str) -> int:
        """Type ``text`` through the customer's layout; returns the key events sent.

        Leaves nothing pressed; characters the layout lacks go through a text path.
        """

    def flush(self) -> None:
        """Send what is buffered to the system now."""

    def close(self) -> None: ...


class ActivityWatcher(Protocol):
    """Tells the injector when the customer uses their own mouse or keyboard."""

    def start(self, on_customer_input: Callable[[], None]) -> None: ...

    def close(self) -> None: ...


def _refuse_wayland() -> None:
    if os.environ.get("XDG_SESSION_TYPE") == "wayland" or (
        os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY")
    ):
        raise ControlUnavailable(
            "Remote control is not available on a Wayland desktop yet (the screen view works)."
        )


def open_backend(display: str | None = None) -> InputBackend:
    """The backend for this desktop.

    Raises
    ------
    ControlUnavailable
        Wayland, no display, or no way to inject input here (said in the message).
    """
    if sys.platform == "win32":
        from zvkdiag.control.win32 import Win32Input

        return Win32Input()
    _refuse_wayland()
    from zvkdiag.control.x11 import X11Input

    return X11Input(display)


def open_watcher(display: str | None = None) -> ActivityWatcher | None:
    """Where the platform can tell the customer's input from ours; None where it cannot."""
    if sys.platform == "win32":
        return None
    from zvkdiag.control.x11watch import X11ActivityWatcher

    try:
        return X11ActivityWatcher(display)
    except ControlUnavailable:
        return None
