"""The Windows backend's structures and pure mappings, checked on Linux.

Nothing here runs against Windows: the backend goes live with the Windows
issue.  ``FakeUser32`` answers the few user32 calls the backend makes, with a
German layout's answers for the keys it knows, and records what ``SendInput``
receives.
"""

from __future__ import annotations

import ctypes
import itertools
import sys
from typing import Any, ClassVar

import pytest
from Xlib import XK

from zvkdiag._errors import ControlUnavailable
from zvkdiag.control import win32
from zvkdiag.control.events import Key, KeySym, Text
from zvkdiag.control.injector import Injector, Screen
from zvkdiag.control.keys import EVDEV, keysym_of
from zvkdiag.control.win32 import (
    HARDWAREINPUT,
    INPUT,
    KEYBDINPUT,
    KEYEVENTF_EXTENDEDKEY,
    KEYEVENTF_KEYUP,
    KEYEVENTF_SCANCODE,
    KEYEVENTF_UNICODE,
    MOUSEEVENTF_ABSOLUTE,
    MOUSEEVENTF_HWHEEL,
    MOUSEEVENTF_MOVE,
    MOUSEEVENTF_VIRTUALDESK,
    MOUSEEVENTF_WHEEL,
    MOUSEINPUT,
    SCANCODES,
    Win32Input,
    decode_vkscan,
    key_of_scancode_ex,
    modifier_keys,
    normalise,
    split_key,
    text_units,
    wheel_data,
)

x64 = pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="x64 layout")

EXTENDED_CODES = {
    "ControlRight",
    "AltRight",
    "ArrowUp",
    "ArrowDown",
    "ArrowLeft",
    "ArrowRight",
    "Home",
    "End",
    "PageUp",
    "PageDown",
    "Insert",
    "Delete",
    "NumpadEnter",
    "NumpadDivide",
    "MetaLeft",
    "MetaRight",
    "ContextMenu",
    "PrintScreen",
    "NumLock",
    "AudioVolumeMute",
    "AudioVolumeDown",
    "AudioVolumeUp",
}


# -- structures ------------------------------------------------------------------------------------
@x64
def test_structure_sizes_match_x64_windows() -> None:
    assert ctypes.sizeof(MOUSEINPUT) == 32
    assert ctypes.sizeof(KEYBDINPUT) == 24
    assert ctypes.sizeof(HARDWAREINPUT) == 8
    assert ctypes.sizeof(INPUT) == 40


@x64
def test_field_offsets_match_x64_windows() -> None:
    offsets = {
        MOUSEINPUT: {"dx": 0, "dy": 4, "mouseData": 8, "dwFlags": 12, "time": 16},
        KEYBDINPUT: {"wVk": 0, "wScan": 2, "dwFlags": 4, "time": 8, "dwExtraInfo": 16},
        HARDWAREINPUT: {"uMsg": 0, "wParamL": 4, "wParamH": 6},
        INPUT: {"type": 0, "u": 8},
    }
    for struct, fields in offsets.items():
        assert {name: getattr(struct, name).offset for name in fields} == fields, struct
    assert MOUSEINPUT.dwExtraInfo.offset == 24
    assert INPUT.mi.offset == INPUT.ki.offset == INPUT.hi.offset == 8


# -- keys ------------------------------------------------------------------------------------------
def test_every_key_position_has_a_scancode() -> None:
    assert set(SCANCODES) == set(EVDEV)


def test_extended_flag_exactly_on_the_e0_keys() -> None:
    assert {code for code, (_, extended) in SCANCODES.items() if extended} == EXTENDED_CODES


def test_known_scancodes() -> None:
    assert SCANCODES["KeyA"] == (0x1E, False)
    assert SCANCODES["Enter"] == (0x1C, False)
    assert SCANCODES["ArrowUp"] == (0x48, True)
    assert SCANCODES["ControlRight"] == (0x1D, True)
    assert SCANCODES["AltRight"] == (0x38, True)
    assert SCANCODES["MetaLeft"] == (0x5B, True)
    assert SCANCODES["IntlBackslash"] == (0x56, False)  # < > | on a German keyboard
    assert SCANCODES["F12"] == (0x58, False)
    assert SCANCODES["F13"] == (0x64, False)
    assert SCANCODES["F24"] == (0x76, False)


def test_numlock_and_pause_share_0x45_apart() -> None:
    # Num Lock is reported extended (0xE045); Pause's E1 1D prefix is dropped (0x45)
    assert SCANCODES["NumLock"] == (0x45, True)
    assert SCANCODES["Pause"] == (0x45, False)


def test_key_ids_are_distinct_and_split_back() -> None:
    ids = {code: win32.key_id(*where) for code, where in SCANCODES.items()}
    assert len(set(ids.values())) == len(ids)
    assert ids["ArrowUp"] == 0xE048 and ids["KeyA"] == 0x1E and ids["Pause"] == 0x45
    for code, key in ids.items():
        assert split_key(key) == SCANCODES[code]


def test_scancode_ex_results() -> None:
    assert key_of_scancode_ex(0x1E) == 0x1E
    assert key_of_scancode_ex(0xE048) == 0xE048
    assert key_of_scancode_ex(0xE11D) == 0x45  # what MapVirtualKeyEx gives for VK_PAUSE
    assert key_of_scancode_ex(0) == 0


def test_vkkeyscan_shift_state() -> None:
    assert decode_vkscan(0x0041) == (0x41, 0)
    assert decode_vkscan(0x0651) == (0x51, 6)  # @ on a German layout: AltGr+Q
    assert decode_vkscan(-1) is None
    assert modifier_keys(0) == ()
    assert modifier_keys(1) == (0x2A,)
    assert modifier_keys(6) == (0x1D, 0x38)
    assert modifier_keys(7) == (0x2A, 0x1D, 0x38)


def test_keysym_table_covers_the_named_keys() -> None:
    names = ["Return", "Tab", "Escape", "BackSpace", "Delete", "Home", "End", "Page_Up"]
    names += ["Page_Down", "Left", "Up", "Right", "Down", *(f"F{n}" for n in range(1, 13))]
    names += ["Control_L", "Control_R", "Shift_L", "Shift_R", "Alt_L", "Alt_R"]
    names += ["Super_L", "Super_R", "ISO_Level3_Shift", "Caps_Lock"]
    for name in names:
        assert keysym_of(name) in win32.VK_OF_KEYSYM, name
    assert win32.VK_OF_KEYSYM[keysym_of("ISO_Level3_Shift")] == 0xA5  # right Alt
    assert win32.VK_OF_KEYSYM[XK.XK_F12] == 0x7B


# -- pointer ---------------------------------------------------------------------------------------
def _windows_pixel(n: int, origin: int, extent: int) -> int:
    """How Windows maps absolute units back to a pixel (nearest pixel over the extent)."""
    return origin + n * extent // 65536


@pytest.mark.parametrize(("origin", "extent"), [(0, 1920), (-1920, 3840), (0, 1), (100, 1366)])
def test_corners_map_to_the_ends(origin: int, extent: int) -> None:
    assert normalise(origin, origin, extent) == 0
    assert normalise(origin + extent - 1, origin, extent) == (65535 if extent > 1 else 0)


def test_outside_pixels_are_clamped() -> None:
    assert normalise(-5, 0, 1920) == 0
    assert normalise(5000, 0, 1920) == 65535


@pytest.mark.parametrize(
    ("origin", "extent"), [(0, 800), (0, 1920), (-1920, 3840), (-1080, 3000), (0, 7680)]
)
def test_pixels_round_trip_within_one(origin: int, extent: int) -> None:
    for pixel in range(origin, origin + extent, max(1, extent // 997)):
        n = normalise(pixel, origin, extent)
        assert 0 <= n <= 65535
        assert abs(_windows_pixel(n, origin, extent) - pixel) <= 1, pixel
        assert round(origin + n * (extent - 1) / 65535) == pixel


def test_wheel_directions() -> None:
    assert wheel_data(0, -1) == [(MOUSEEVENTF_WHEEL, 120)]  # up: positive delta
    assert wheel_data(0, 3) == [(MOUSEEVENTF_WHEEL, (-360) & 0xFFFFFFFF)]
    assert wheel_data(2, 0) == [(MOUSEEVENTF_HWHEEL, 240)]  # right: positive delta
    assert wheel_data(0, 0) == []


# -- text ------------------------------------------------------------------------------------------
def _packets(*units: int) -> list[tuple[int, int]]:
    return [(u, f) for u in units for f in (KEYEVENTF_UNICODE, KEYEVENTF_UNICODE | KEYEVENTF_KEYUP)]


def test_text_is_one_packet_per_utf16_unit() -> None:
    assert text_units("aß€") == _packets(0x61, 0xDF, 0x20AC)


def test_text_beyond_the_bmp_is_a_surrogate_pair() -> None:
    assert text_units("😀") == _packets(0xD83D, 0xDE00)
    assert text_units("a𝄞") == _packets(0x61, 0xD834, 0xDD1E)


def test_line_breaks_and_tabs_are_keys() -> None:
    enter = [(0x1C, KEYEVENTF_SCANCODE), (0x1C, KEYEVENTF_SCANCODE | KEYEVENTF_KEYUP)]
    tab = [(0x0F, KEYEVENTF_SCANCODE), (0x0F, KEYEVENTF_SCANCODE | KEYEVENTF_KEYUP)]
    assert text_units("a\r\nb") == _packets(0x61) + enter + _packets(0x62)
    assert text_units("\n\t") == enter + tab


# -- the backend off Windows and with a fake user32 ------------------------------------------------
@pytest.mark.skipif(sys.platform == "win32", reason="checks the refusal off Windows")
def test_off_windows_the_backend_refuses() -> None:
    with pytest.raises(ControlUnavailable, match="only on Windows"):
        Win32Input()


class FakeUser32:
    """The user32 calls of the backend; German layout answers for the keys the tests use."""

    VKSCAN: ClassVar = {"a": 0x0041, "A": 0x0141, "@": 0x0651, "q": 0x0051, "^": 0x00DC}
    SCAN: ClassVar = {0x41: 0x1E, 0x51: 0x10, 0x0D: 0x1C, 0x26: 0xE048, 0xA5: 0xE038, 0xA2: 0x1D}
    VK: ClassVar = {**{scan: vk for vk, scan in SCAN.items()}, 0x0F: 0x09}

    def __init__(self, *, accepts: int | None = None) -> None:
        self.accepts = accepts
        self.sent: list[tuple[int, ...]] = []
        self.metrics = {76: -1920, 77: 0, 78: 3840, 79: 1080}

    def GetSystemMetrics(self, index: int) -> int:
        return self.metrics[index]

    def GetForegroundWindow(self) -> int:
        return 0x10010

    def GetWindowThreadProcessId(self, hwnd: int, pid: Any) -> int:
        return 4242

    def GetKeyboardLayout(self, thread: int) -> int:
        return 0x04070407

    def VkKeyScanExW(self, ch: str, layout: int) -> int:
        return self.VKSCAN.get(ch, -1)

    def MapVirtualKeyExW(self, vk: int, kind: int, layout: int) -> int:
        if kind == 2:  # MAPVK_VK_TO_CHAR: the ^ key is a dead key on a German layout
            return 0x8000005E if vk == 0xDC else 0x41
        if kind == 3:  # MAPVK_VSC_TO_VK_EX: here ``vk`` is a scancode, 0xE0.. when extended
            assert layout == 0x04070407
            return self.VK.get(vk, 0)
        assert kind == 4  # MAPVK_VK_TO_VSC_EX
        return self.SCAN.get(vk, 0)

    def SendInput(self, count: int, events: Any, size: int) -> int:
        assert size == ctypes.sizeof(INPUT) and count == len(events)
        for e in events:
            if e.type == 1:
                self.sent.append((1, e.ki.wVk, e.ki.wScan, e.ki.dwFlags))
            else:
                self.sent.append((0, e.mi.dx, e.mi.dy, e.mi.mouseData, e.mi.dwFlags))
        return count if self.accepts is None else min(self.accepts, count)


def test_keys_go_as_scancodes_with_the_extended_flag() -> None:
    fake = FakeUser32()
    backend = Win32Input(user32=fake)
    backend.key(backend.key_of_code("KeyA"), True)
    backend.key(backend.key_of_code("ArrowUp"), True)
    backend.key(backend.key_of_code("ArrowUp"), False)
    assert fake.sent == []  # buffered until flush
    backend.flush()
    assert fake.sent == [  # the virtual key beside the scancode: Wine 8 reads only that
        (1, 0x41, 0x1E, KEYEVENTF_SCANCODE),
        (1, 0x26, 0x48, KEYEVENTF_SCANCODE | KEYEVENTF_EXTENDEDKEY),
        (1, 0x26, 0x48, KEYEVENTF_SCANCODE | KEYEVENTF_EXTENDEDKEY | KEYEVENTF_KEYUP),
    ]
    with pytest.raises(ValueError, match="'Fn'"):
        backend.key_of_code("Fn")


def test_keysyms_through_the_layout() -> None:
    backend = Win32Input(user32=FakeUser32())
    assert backend.key_of_keysym(ord("@")) == (0x10, (0x1D, 0x38))  # AltGr+Q as Ctrl+Alt
    assert backend.key_of_keysym(ord("A")) == (0x1E, (0x2A,))
    assert backend.key_of_keysym(XK.XK_Return) == (0x1C, ())
    assert backend.key_of_keysym(XK.XK_Up) == (0xE048, ())
    assert backend.key_of_keysym(keysym_of("ISO_Level3_Shift")) == (0xE038, ())
    with pytest.raises(ValueError, match="keysym"):
        backend.key_of_keysym(XK.XK_Pause)  # neither in the table nor a character


@pytest.mark.parametrize("ch", ["Ω", "^", "😀"])  # no key, a dead key, beyond the BMP
def test_a_character_without_a_plain_key_goes_as_packets(ch: str) -> None:
    fake = FakeUser32()
    backend = Win32Input(user32=fake)
    key, mods = backend.key_of_keysym(keysym_of(ch))
    assert mods == ()
    backend.key(key, True)
    backend.key(key, False)
    backend.flush()
    data = ch.encode("utf-16-le")
    units = [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]
    assert fake.sent == [(1, 0, u, KEYEVENTF_UNICODE) for u in units] + [
        (1, 0, u, KEYEVENTF_UNICODE | KEYEVENTF_KEYUP) for u in units
    ]


def test_pointer_on_the_virtual_desktop() -> None:
    fake = FakeUser32()  # two monitors: one left of the primary, x from -1920 to 1919
    backend = Win32Input(user32=fake)
    backend.move(-1920, 0)
    backend.move(1919, 1079)
    backend.button(1, True)
    backend.button(1, False)
    backend.button(3, True)
    backend.wheel(0, -1)
    backend.flush()
    move = MOUSEEVENTF_MOVE | MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK
    assert fake.sent == [
        (0, 0, 0, 0, move),
        (0, 65535, 65535, 0, move),
        (0, 0, 0, 0, 0x0002),
        (0, 0, 0, 0, 0x0004),
        (0, 0, 0, 0, 0x0008),
        (0, 0, 0, 120, MOUSEEVENTF_WHEEL),
    ]
    with pytest.raises(ValueError, match="button 4"):
        backend.button(4, True)


def test_type_text_sends_at_once_and_counts() -> None:
    fake = FakeUser32()
    backend = Win32Input(user32=fake)
    backend.move(0, 0)  # buffered before the text: sent with it, not counted as a key event
    assert backend.type_text("Grüße 😀") == 2 * 8
    fake.sent.pop(0)
    assert [event[2] for event in fake.sent[::2]] == [ord(c) for c in "Grüße "] + [0xD83D, 0xDE00]


def test_line_breaks_in_text_carry_their_virtual_keys() -> None:
    fake = FakeUser32()
    Win32Input(user32=fake).type_text("a\n\t")
    keys = [(vk, scan) for _, vk, scan, flags in fake.sent if flags & KEYEVENTF_SCANCODE]
    assert keys == [(0x0D, 0x1C), (0x0D, 0x1C), (0x09, 0x0F), (0x09, 0x0F)]
    assert [vk for _, vk, _, flags in fake.sent if flags & KEYEVENTF_UNICODE] == [0, 0]


def test_input_refused_by_uipi_is_control_unavailable() -> None:
    fake = FakeUser32(accepts=0)
    backend = Win32Input(user32=fake)
    backend.key(backend.key_of_code("KeyA"), True)
    with pytest.raises(ControlUnavailable, match="administrator rights") as caught:
        backend.flush()
    assert "0 of 1" in str(caught.value)
    backend.flush()  # the refused events are not sent again
    assert len(fake.sent) == 1


def test_the_injector_drives_it() -> None:
    fake = FakeUser32()
    ticks = itertools.count()
    inj = Injector(
        Win32Input(user32=fake), Screen(0, 0, 1920, 1080), clock=lambda: next(ticks) * 0.001
    )
    inj.apply([Key("ControlRight", True), Key("ControlRight", False), KeySym("A", True)])
    inj.apply([KeySym("A", False), Text("x")])
    scans = [(scan, flags) for _, _, scan, flags in fake.sent]
    assert scans == [
        (0x1D, KEYEVENTF_SCANCODE | KEYEVENTF_EXTENDEDKEY),
        (0x1D, KEYEVENTF_SCANCODE | KEYEVENTF_EXTENDEDKEY | KEYEVENTF_KEYUP),
        (0x2A, KEYEVENTF_SCANCODE),  # Shift for "A"
        (0x1E, KEYEVENTF_SCANCODE),
        (0x1E, KEYEVENTF_SCANCODE | KEYEVENTF_KEYUP),
        (0x2A, KEYEVENTF_SCANCODE | KEYEVENTF_KEYUP),
        (ord("x"), KEYEVENTF_UNICODE),
        (ord("x"), KEYEVENTF_UNICODE | KEYEVENTF_KEYUP),
    ]
