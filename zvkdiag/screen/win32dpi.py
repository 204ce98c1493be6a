"""Per-monitor DPI awareness for the Windows customer program, set once before Tk starts.

Without it Windows scales a DPI-unaware program's windows as bitmaps (blurry
text) and, worse for us, reports and captures a scaled-down virtual screen:
GDI grabs and ``SendInput`` coordinates would no longer match the pixels the
customer sees.  The setting belongs to the process and can be made only
before the first window exists; later calls fail (``E_ACCESSDENIED``), which
is why mss's own call, made when the first capture starts, is too late.

Tried in order, newest first: ``SetProcessDpiAwarenessContext(PER_MONITOR_AWARE_V2)``
(Windows 10 1703+), ``SetProcessDpiAwareness(PROCESS_PER_MONITOR_DPI_AWARE)``
(8.1+), ``SetProcessDPIAware()`` (system-wide DPI, Vista+).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any, Final

__all__ = ["DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2", "set_dpi_awareness"]

DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2: Final = -4
PROCESS_PER_MONITOR_DPI_AWARE: Final = 2
S_OK: Final = 0

_chosen: str | None = None


def set_dpi_awareness(*, user32: Any = None, shcore: Any = None) -> str:
    """Make this process per-monitor DPI aware; returns what took effect.

    ``"per-monitor-v2"``, ``"per-monitor"``, ``"system"``, ``"none"`` (every
    call refused), or ``"not windows"``.  Only the first call acts; ``user32``
    and ``shcore`` stand in for the DLLs in tests.
    """
    global _chosen
    if _chosen is not None:
        return _chosen
    if user32 is None and sys.platform != "win32":
        return "not windows"
    if user32 is None:
        user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    if shcore is None and sys.platform == "win32":
        try:
            shcore = ctypes.WinDLL("shcore", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            shcore = None
    _chosen = _first_that_works(user32, shcore)
    return _chosen


def _first_that_works(user32: Any, shcore: Any) -> str:
    set_context = getattr(user32, "SetProcessDpiAwarenessContext", None)
    if set_context is not None:
        set_context.restype = ctypes.c_int32
        set_context.argtypes = (ctypes.c_ssize_t,)
        if set_context(DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2):
            return "per-monitor-v2"
    set_awareness = getattr(shcore, "SetProcessDpiAwareness", None)
    if set_awareness is not None:
        set_awareness.restype = ctypes.c_int32
        set_awareness.argtypes = (ctypes.c_int32,)
        if set_awareness(PROCESS_PER_MONITOR_DPI_AWARE) == S_OK:
            return "per-monitor"
    set_aware = getattr(user32, "SetProcessDPIAware", None)
    if set_aware is not None:
        set_aware.restype = ctypes.c_int32
        if set_aware():
            return "system"
    return "none"


def _reset_for_tests() -> None:
    global _chosen
    _chosen = None
