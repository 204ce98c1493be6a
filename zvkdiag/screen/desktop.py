"""Whether the customer's screen can be seen now: Windows' secure desktop.

Windows shows UAC prompts, the lock screen and Ctrl+Alt+Del on a desktop of
its own (``Winlogon``, the "secure desktop").  No program of the logged-in
user can capture it or send input to it: a GDI grab then returns black or
the picture from before.  So the screen stream asks, before each grab, which
desktop has the input: ``OpenInputDesktop`` is refused (access denied) to an
unprivileged program while the secure desktop has it, and otherwise the
desktop's name (``GetUserObjectInformationW(UOI_NAME)``) is ``Default``.
The engineer then sees "Der Kunde bestätigt gerade eine
Windows-Sicherheitsabfrage" instead of a black or frozen picture, and a fresh
keyframe once the customer is back.

X11 has no such desktop: ``DesktopWatch`` there always answers ``NORMAL``.
(DXGI's ``DXGI_ERROR_ACCESS_LOST`` is the same event seen by Desktop
Duplication, which is not built: see docs/windows.md.)
"""

from __future__ import annotations

import ctypes
import enum
import sys
import time
from collections.abc import Callable
from typing import Any, Final

__all__ = ["CHECK_EVERY", "Desktop", "DesktopWatch", "input_desktop_name"]

CHECK_EVERY: Final = 0.25
"""Seconds between two looks at the input desktop (each costs a few system calls)."""
DESKTOP_READOBJECTS: Final = 0x0001
UOI_NAME: Final = 2
NAME_CHARS: Final = 256


class Desktop(enum.Enum):
    NORMAL = "normal"
    SECURE = "secure"  # UAC prompt, lock screen, Ctrl+Alt+Del: nothing to capture


def input_desktop_name(user32: Any) -> str | None:
    """The name of the desktop that has the input; None when it may not be opened."""
    handle = user32.OpenInputDesktop(0, False, DESKTOP_READOBJECTS)
    if not handle:
        return None
    try:
        name = ctypes.create_unicode_buffer(NAME_CHARS)
        needed = ctypes.c_uint32(0)
        size = ctypes.sizeof(name)
        if not user32.GetUserObjectInformationW(handle, UOI_NAME, name, size, ctypes.byref(needed)):
            return None
        return name.value
    finally:
        user32.CloseDesktop(handle)


class DesktopWatch:
    """Which desktop the customer sees, looked up at most every ``CHECK_EVERY`` seconds.

    ``user32`` stands in for the DLL in tests (``zvkdiag.testing.desktops``);
    without it, and not on Windows, the answer is always ``NORMAL``.
    """

    def __init__(
        self,
        *,
        user32: Any = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = CHECK_EVERY,
    ) -> None:
        if user32 is None and sys.platform == "win32":
            user32 = _load_user32()
        self._user32 = user32
        self._clock = clock
        self._every = every
        self._checked = -float("inf")
        self._state = Desktop.NORMAL

    def state(self) -> Desktop:
        if self._user32 is None:
            return Desktop.NORMAL
        now = self._clock()
        if now - self._checked >= self._every:
            self._checked = now
            name = input_desktop_name(self._user32)
            normal = name is not None and name.lower() == "default"
            self._state = Desktop.NORMAL if normal else Desktop.SECURE
        return self._state


def _load_user32() -> Any:
    user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    user32.OpenInputDesktop.restype = ctypes.c_void_p
    user32.OpenInputDesktop.argtypes = (ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint32)
    user32.GetUserObjectInformationW.restype = ctypes.c_int32
    user32.GetUserObjectInformationW.argtypes = (
        ctypes.c_void_p,
        ctypes.c_int32,
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.POINTER(ctypes.c_uint32),
    )
    user32.CloseDesktop.restype = ctypes.c_int32
    user32.CloseDesktop.argtypes = (ctypes.c_void_p,)
    return user32
