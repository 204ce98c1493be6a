"""An honest stand-in for the part of user32 that says which desktop has the input.

``FakeDesktops`` behaves as Windows does for an unprivileged program: while
``input`` is ``"Winlogon"`` (UAC prompt, lock screen) ``OpenInputDesktop``
may still succeed for some callers and names that desktop, or, as for most
programs, is refused (``refuse=True``: returns 0).  Every handle it hands out
must be closed again (``open_handles``).
"""

from __future__ import annotations

import ctypes
from typing import Any

__all__ = ["FakeDesktops"]


class FakeDesktops:
    def __init__(self, input: str = "Default", *, refuse: bool = False) -> None:
        self.input = input
        self.refuse = refuse
        self.opened = 0
        self.open_handles: set[int] = set()
        self._next = 0x40

    def show(self, input: str, *, refuse: bool = False) -> None:
        """The input moves to ``input`` (``"Winlogon"``: the secure desktop)."""
        self.input, self.refuse = input, refuse

    # -- user32 ---------------------------------------------------------------------------
    def OpenInputDesktop(self, flags: int, inherit: bool, access: int) -> int:
        self.opened += 1
        if self.refuse:
            return 0
        self._next += 4
        self.open_handles.add(self._next)
        return self._next

    def GetUserObjectInformationW(
        self, handle: int, index: int, buffer: Any, size: int, needed: Any
    ) -> int:
        if handle not in self.open_handles or index != 2:  # UOI_NAME
            return 0
        name = self.input + "\0"
        if len(name) * ctypes.sizeof(ctypes.c_wchar) > size:
            return 0
        buffer.value = self.input
        return 1

    def CloseDesktop(self, handle: int) -> int:
        if handle not in self.open_handles:
            return 0
        self.open_handles.discard(handle)
        return 1
