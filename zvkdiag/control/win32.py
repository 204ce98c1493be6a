"""Windows input through ``SendInput``: what the customer's desktop sees as real input.

Keys travel as set-1 scancodes (``KEYEVENTF_SCANCODE``), so the customer's own
keyboard layout turns them into characters, as with X11's evdev keycodes.  Each
also carries the virtual key the layout gives its scancode: Windows ignores
``wVk`` when ``KEYEVENTF_SCANCODE`` is set, while Wine 8 reads only ``wVk``
(a scancode alone types nothing there; docs/windows.md).  A
key id is the scancode, with ``0xE000`` added for the keys whose scancode
carries the E0 prefix (sent with ``KEYEVENTF_EXTENDEDKEY``).  Two keys share
scancode 0x45: Windows reports Num Lock as extended (``MapVirtualKeyEx``
gives 0xE045) and Pause, whose E1 1D 45 prefix it drops, as plain 0x45; they
are sent that way.  Key ids from ``_UNICODE_KEY`` up stand for one character
the layout has no plain key for (none at all, or a dead key), sent as
``KEYEVENTF_UNICODE`` packets.

Text goes as ``KEYEVENTF_UNICODE`` packets, one per UTF-16 code unit, which no
layout or Caps Lock can change.  Pointer positions are absolute on the whole
virtual desktop (``MOUSEEVENTF_VIRTUALDESK``), normalised to 0..65535.

``SendInput`` is subject to UIPI: input meant for a window of an elevated
process (or for a Windows security prompt) is dropped, and the only sign is a
count below the number of events sent; that becomes ``ControlUnavailable``.

This backend goes live with the Windows issue.  Until then it is tested on
Linux only: its structures' layout, its pure mappings, and its calls against a
fake user32.  Nothing here has run against Windows yet.
``ctypes``' Windows parts are touched only in ``Win32Input`` itself, so the
module imports everywhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from typing import Any, Final

from Xlib import XK

from zvkdiag._errors import ControlUnavailable
from zvkdiag.control.keys import EVDEV, keysym_char

__all__ = [
    "HARDWAREINPUT",
    "INPUT",
    "KEYBDINPUT",
    "MOUSEINPUT",
    "SCANCODES",
    "VK_OF_KEYSYM",
    "Win32Input",
    "decode_vkscan",
    "key_id",
    "key_of_scancode_ex",
    "modifier_keys",
    "normalise",
    "split_key",
    "text_units",
    "wheel_data",
]

# -- structures (winuser.h) with fixed-width fields: ctypes.wintypes' LONG/DWORD differ on Linux --
ULONG_PTR: Final = ctypes.c_uint64 if ctypes.sizeof(ctypes.c_void_p) == 8 else ctypes.c_uint32


class MOUSEINPUT(ctypes.Structure):
    _fields_ = (
        ("dx", ctypes.c_int32),
        ("dy", ctypes.c_int32),
        ("mouseData", ctypes.c_uint32),
        ("dwFlags", ctypes.c_uint32),
        ("time", ctypes.c_uint32),
        ("dwExtraInfo", ULONG_PTR),
    )


class KEYBDINPUT(ctypes.Structure):
    _fields_ = (
        ("wVk", ctypes.c_uint16),
        ("wScan", ctypes.c_uint16),
        ("dwFlags", ctypes.c_uint32),
        ("time", ctypes.c_uint32),
        ("dwExtraInfo", ULONG_PTR),
    )


class HARDWAREINPUT(ctypes.Structure):
    _fields_ = (
        ("uMsg", ctypes.c_uint32),
        ("wParamL", ctypes.c_uint16),
        ("wParamH", ctypes.c_uint16),
    )


class _INPUTUNION(ctypes.Union):
    _fields_ = (("mi", MOUSEINPUT), ("ki", KEYBDINPUT), ("hi", HARDWAREINPUT))


class INPUT(ctypes.Structure):
    _anonymous_ = ("u",)
    _fields_ = (("type", ctypes.c_uint32), ("u", _INPUTUNION))


INPUT_MOUSE: Final = 0
INPUT_KEYBOARD: Final = 1

KEYEVENTF_EXTENDEDKEY: Final = 0x0001
KEYEVENTF_KEYUP: Final = 0x0002
KEYEVENTF_UNICODE: Final = 0x0004
KEYEVENTF_SCANCODE: Final = 0x0008

MOUSEEVENTF_MOVE: Final = 0x0001
MOUSEEVENTF_WHEEL: Final = 0x0800
MOUSEEVENTF_HWHEEL: Final = 0x1000
MOUSEEVENTF_VIRTUALDESK: Final = 0x4000
MOUSEEVENTF_ABSOLUTE: Final = 0x8000
_BUTTONS: Final = {1: (0x0002, 0x0004), 2: (0x0020, 0x0040), 3: (0x0008, 0x0010)}  # down, up
WHEEL_DELTA: Final = 120

SM_XVIRTUALSCREEN: Final = 76
SM_YVIRTUALSCREEN: Final = 77
SM_CXVIRTUALSCREEN: Final = 78
SM_CYVIRTUALSCREEN: Final = 79
MAPVK_VK_TO_CHAR: Final = 2
MAPVK_VSC_TO_VK_EX: Final = 3
MAPVK_VK_TO_VSC_EX: Final = 4
_DEAD_KEY: Final = 0x80000000
_DPI_AWARENESS_PER_MONITOR_V2: Final = -4
NORMALISED_MAX: Final = 65535

# -- keys ------------------------------------------------------------------------------------------
_EXTENDED: Final = 0xE000
_UNICODE_KEY: Final = 0x10000
"""Key ids from here up are ``_UNICODE_KEY + code point``: a character typed as a packet."""

# evdev codes 1..88 are the set-1 scancodes themselves; the keys beyond, by their set-1 code
_BEYOND_88: Final[dict[str, tuple[int, bool]]] = {
    "IntlRo": (0x73, False),
    "NumpadEnter": (0x1C, True),
    "ControlRight": (0x1D, True),
    "NumpadDivide": (0x35, True),
    "PrintScreen": (0x37, True),
    "AltRight": (0x38, True),
    "Home": (0x47, True),
    "ArrowUp": (0x48, True),
    "PageUp": (0x49, True),
    "ArrowLeft": (0x4B, True),
    "ArrowRight": (0x4D, True),
    "End": (0x4F, True),
    "ArrowDown": (0x50, True),
    "PageDown": (0x51, True),
    "Insert": (0x52, True),
    "Delete": (0x53, True),
    "AudioVolumeMute": (0x20, True),
    "AudioVolumeDown": (0x2E, True),
    "AudioVolumeUp": (0x30, True),
    "NumpadEqual": (0x59, False),
    "Pause": (0x45, False),
    "NumpadComma": (0x7E, False),
    "IntlYen": (0x7D, False),
    "MetaLeft": (0x5B, True),
    "MetaRight": (0x5C, True),
    "ContextMenu": (0x5D, True),
    **{f"F{n}": (0x64 + n - 13, False) for n in range(13, 24)},
    "F24": (0x76, False),
}
SCANCODES: Final[dict[str, tuple[int, bool]]] = {
    **{code: (evdev, False) for code, evdev in EVDEV.items() if evdev <= 88},
    **_BEYOND_88,
    "NumLock": (0x45, True),
}
"""``KeyboardEvent.code`` -> (set-1 scancode, extended: sent with the E0 prefix)."""

_LSHIFT: Final = 0x2A
_LCTRL: Final = 0x1D
_LALT: Final = 0x38
_ENTER: Final = 0x1C
_TAB: Final = 0x0F

# X keysym names that type no character -> Windows virtual-key codes
_VK_OF_NAME: Final[dict[str, int]] = {
    "Return": 0x0D,
    "KP_Enter": 0x0D,
    "Tab": 0x09,
    "Escape": 0x1B,
    "BackSpace": 0x08,
    "Insert": 0x2D,
    "Delete": 0x2E,
    "Home": 0x24,
    "End": 0x23,
    "Page_Up": 0x21,
    "Page_Down": 0x22,
    "Left": 0x25,
    "Up": 0x26,
    "Right": 0x27,
    "Down": 0x28,
    **{f"F{n}": 0x6F + n for n in range(1, 13)},
    "Shift_L": 0xA0,
    "Shift_R": 0xA1,
    "Control_L": 0xA2,
    "Control_R": 0xA3,
    "Alt_L": 0xA4,
    "Alt_R": 0xA5,
    "ISO_Level3_Shift": 0xA5,  # AltGr is the right Alt key on Windows
    "Super_L": 0x5B,
    "Super_R": 0x5C,
    "Menu": 0x5D,
    "Caps_Lock": 0x14,
}
VK_OF_KEYSYM: Final[dict[int, int]] = {
    XK.string_to_keysym(name): vk for name, vk in _VK_OF_NAME.items()
}


def key_id(scancode: int, extended: bool) -> int:
    """The key id of a set-1 scancode: extended keys get 0xE000 added."""
    return scancode | _EXTENDED if extended else scancode


def split_key(key: int) -> tuple[int, bool]:
    """A scancode key id -> (scancode, extended)."""
    return key & 0xFF, key & 0xFF00 == _EXTENDED


def key_of_scancode_ex(vsc: int) -> int:
    """The key id of a ``MapVirtualKeyEx(..., MAPVK_VK_TO_VSC_EX)`` result; 0 if there is none.

    The high byte is 0xE0 for an extended key, 0xE1 for Pause (0xE11D).
    """
    if vsc >> 8 == 0xE1:
        return SCANCODES["Pause"][0]
    return vsc & 0xE0FF


def modifier_keys(shift_state: int) -> tuple[int, ...]:
    """The modifier key ids that ``VkKeyScanEx``'s shift state byte asks for.

    Bit 1 Shift, bit 2 Ctrl, bit 4 Alt; AltGr characters report Ctrl+Alt, which
    left Ctrl + left Alt produce on Windows.
    """
    bits = ((1, _LSHIFT), (2, _LCTRL), (4, _LALT))
    return tuple(key for bit, key in bits if shift_state & bit)


def decode_vkscan(result: int) -> tuple[int, int] | None:
    """``VkKeyScanEx``'s SHORT -> (virtual key, shift state); None where the layout has no key."""
    result &= 0xFFFF
    if result == 0xFFFF:
        return None
    return result & 0xFF, result >> 8


# -- pure event shapes -----------------------------------------------------------------------------
def normalise(pixel: int, origin: int, extent: int) -> int:
    """A pixel of the virtual desktop -> ``MOUSEEVENTF_ABSOLUTE`` units (0..65535).

    The first pixel maps to 0 and the last to 65535 (clamped at the edges), so
    Windows' own mapping back lands within one pixel of ``pixel``.
    """
    if extent <= 1:
        return 0
    offset = min(max(pixel - origin, 0), extent - 1)
    return (offset * NORMALISED_MAX + (extent - 1) // 2) // (extent - 1)


def wheel_data(dx: int, dy: int) -> list[tuple[int, int]]:
    """(flags, mouseData) for a wheel turn: dy < 0 is up (positive delta), dx > 0 is right."""
    events: list[tuple[int, int]] = []
    if dy:
        events.append((MOUSEEVENTF_WHEEL, (-dy * WHEEL_DELTA) & 0xFFFFFFFF))
    if dx:
        events.append((MOUSEEVENTF_HWHEEL, (dx * WHEEL_DELTA) & 0xFFFFFFFF))
    return events


def text_units(text: str) -> list[tuple[int, int]]:
    """(wScan, dwFlags) of the keyboard events that type ``text``, each key down then up.

    One ``KEYEVENTF_UNICODE`` packet per UTF-16 code unit (a character beyond
    the BMP is a surrogate pair); line breaks and tabs are the Enter and Tab
    keys, which is what programs expect of them.
    """
    events: list[tuple[int, int]] = []
    for ch in text.replace("\r\n", "\n"):
        if ch in "\r\n\t":
            scan = _TAB if ch == "\t" else _ENTER
            events += [(scan, KEYEVENTF_SCANCODE), (scan, KEYEVENTF_SCANCODE | KEYEVENTF_KEYUP)]
            continue
        for unit in _utf16_units(ch):
            events += [(unit, KEYEVENTF_UNICODE), (unit, KEYEVENTF_UNICODE | KEYEVENTF_KEYUP)]
    return events


def _utf16_units(ch: str) -> list[int]:
    data = ch.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]


def _keyboard(scan: int, flags: int, vk: int = 0) -> INPUT:
    event = INPUT(type=INPUT_KEYBOARD)
    event.ki = KEYBDINPUT(wVk=vk, wScan=scan, dwFlags=flags)
    return event


def _mouse(flags: int, dx: int = 0, dy: int = 0, data: int = 0) -> INPUT:
    event = INPUT(type=INPUT_MOUSE)
    event.mi = MOUSEINPUT(dx=dx, dy=dy, mouseData=data, dwFlags=flags)
    return event


# -- the backend -----------------------------------------------------------------------------------
class Win32Input:
    """Injects pointer and keyboard input into the customer's Windows desktop.

    Events are buffered and sent in one ``SendInput`` call by ``flush`` (and
    by ``type_text``), so Windows inserts them without the customer's own
    input in between.

    Parameters
    ----------
    user32
        What to call instead of Windows' user32 library (tests pass a fake).

    Raises
    ------
    ControlUnavailable
        Not on Windows; or, from any method that sends, Windows refused the
        input (UIPI: the window in front belongs to an elevated process).
    """

    def __init__(self, *, user32: Any = None) -> None:
        self._user32: Any = user32 if user32 is not None else _load_user32()
        self._pending: list[INPUT] = []
        # positions arrive in physical pixels; a DPI-unaware process would see scaled metrics
        with contextlib.suppress(AttributeError, OSError):
            self._user32.SetProcessDpiAwarenessContext(
                ctypes.c_void_p(_DPI_AWARENESS_PER_MONITOR_V2)
            )

    # -- keys ------------------------------------------------------------------------------------
    def key_of_code(self, code: str) -> int:
        where = SCANCODES.get(code)
        if where is None:
            raise ValueError(f"unknown key code {code!r}")
        return key_id(*where)

    def key_of_keysym(self, keysym: int) -> tuple[int, tuple[int, ...]]:
        layout = self._layout()
        ch = keysym_char(keysym)
        vk = VK_OF_KEYSYM.get(keysym)
        mods: tuple[int, ...] = ()
        if vk is None and ch is not None and len(_utf16_units(ch)) == 1:
            found = decode_vkscan(int(self._user32.VkKeyScanExW(ch, layout)))
            if found is not None and not self._is_dead(found[0], layout):
                vk, mods = found[0], modifier_keys(found[1])
        if vk is not None:
            key = key_of_scancode_ex(
                int(self._user32.MapVirtualKeyExW(vk, MAPVK_VK_TO_VSC_EX, layout))
            )
            if key:
                return key, mods
        if ch is None:
            raise ValueError(f"no key on this keyboard types keysym {keysym:#x}")
        return _UNICODE_KEY + ord(ch), ()

    def _is_dead(self, vk: int, layout: int) -> bool:
        """A dead key (^ on a German layout) would wait for the next key: type a packet instead."""
        return bool(int(self._user32.MapVirtualKeyExW(vk, MAPVK_VK_TO_CHAR, layout)) & _DEAD_KEY)

    def _layout(self) -> int:
        """The keyboard layout of the window in front (layouts are per thread on Windows)."""
        thread = self._user32.GetWindowThreadProcessId(self._user32.GetForegroundWindow(), None)
        return int(self._user32.GetKeyboardLayout(thread) or 0)

    def _event(self, scan: int, flags: int) -> INPUT:
        """A keyboard event; a scancode gets the layout's virtual key beside it (for Wine)."""
        if not flags & KEYEVENTF_SCANCODE:
            return _keyboard(scan, flags)
        vsc = key_id(scan, bool(flags & KEYEVENTF_EXTENDEDKEY))
        vk = int(self._user32.MapVirtualKeyExW(vsc, MAPVK_VSC_TO_VK_EX, self._layout()))
        return _keyboard(scan, flags, vk & 0xFF)

    def key(self, key: int, down: bool) -> None:
        up = 0 if down else KEYEVENTF_KEYUP
        if key >= _UNICODE_KEY:
            for unit in _utf16_units(chr(key - _UNICODE_KEY)):
                self._pending.append(_keyboard(unit, KEYEVENTF_UNICODE | up))
            return
        scan, extended = split_key(key)
        flags = KEYEVENTF_SCANCODE | up | (KEYEVENTF_EXTENDEDKEY if extended else 0)
        self._pending.append(self._event(scan, flags))

    def type_text(self, text: str) -> int:
        events = [self._event(scan, flags) for scan, flags in text_units(text)]
        self._pending += events
        self.flush()
        return len(events)

    # -- pointer ---------------------------------------------------------------------------------
    def move(self, x: int, y: int) -> None:
        metric = self._user32.GetSystemMetrics
        nx = normalise(x, metric(SM_XVIRTUALSCREEN), metric(SM_CXVIRTUALSCREEN))
        ny = normalise(y, metric(SM_YVIRTUALSCREEN), metric(SM_CYVIRTUALSCREEN))
        flags = MOUSEEVENTF_MOVE | MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK
        self._pending.append(_mouse(flags, nx, ny))

    def button(self, button: int, down: bool) -> None:
        if button not in _BUTTONS:
            raise ValueError(f"unknown mouse button {button}")
        self._pending.append(_mouse(_BUTTONS[button][0 if down else 1]))

    def wheel(self, dx: int, dy: int) -> None:
        self._pending += [_mouse(flags, data=data) for flags, data in wheel_data(dx, dy)]

    # -- sending ---------------------------------------------------------------------------------
    def flush(self) -> None:
        if not self._pending:
            return
        events = (INPUT * len(self._pending))(*self._pending)
        self._pending.clear()
        inserted = int(self._user32.SendInput(len(events), events, ctypes.sizeof(INPUT)))
        if inserted < len(events):
            raise ControlUnavailable(
                "The window in front runs with administrator rights (or a Windows security "
                "prompt is showing); Windows does not let remote input reach it. The customer "
                "can bring another window to the front or close that one, then control works "
                f"again. ({inserted} of {len(events)} input events arrived.)"
            )

    def close(self) -> None:
        with contextlib.suppress(ControlUnavailable):
            self.flush()


def _load_user32() -> Any:
    """user32 with argument types set, so ctypes passes 64-bit handles and pointers intact."""
    if sys.platform != "win32":
        raise ControlUnavailable("The Windows input backend works only on Windows.")
    user32 = getattr(ctypes, "WinDLL")("user32", use_last_error=True)  # noqa: B009
    c = ctypes
    signatures: dict[str, tuple[list[Any], Any]] = {
        "SendInput": ([c.c_uint32, c.POINTER(INPUT), c.c_int32], c.c_uint32),
        "GetSystemMetrics": ([c.c_int32], c.c_int32),
        "VkKeyScanExW": ([c.c_wchar, c.c_void_p], c.c_int16),
        "MapVirtualKeyExW": ([c.c_uint32, c.c_uint32, c.c_void_p], c.c_uint32),
        "GetForegroundWindow": ([], c.c_void_p),
        "GetWindowThreadProcessId": ([c.c_void_p, c.c_void_p], c.c_uint32),
        "GetKeyboardLayout": ([c.c_uint32], c.c_void_p),
        "SetProcessDpiAwarenessContext": ([c.c_void_p], c.c_int32),
    }
    for name, (argtypes, restype) in signatures.items():
        with contextlib.suppress(AttributeError):  # SetProcessDpiAwarenessContext: Windows 10+
            function = getattr(user32, name)
            function.argtypes, function.restype = argtypes, restype
    return user32
