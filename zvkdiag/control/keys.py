"""Key positions and key names, without a display: pure tables and parsing.

Keys travel as physical positions (the browser's ``KeyboardEvent.code``), so
the customer's own layout turns them into characters, exactly as if the
customer had pressed them.  ``EVDEV`` gives each position its Linux input code;
an X server with evdev keycodes (Xorg with libinput or evdev, Xvfb, Xwayland)
uses that code + 8, and Windows' set-1 scancodes are listed beside it in
``zvkdiag.control.win32``.

Key *names* (``c.key("ctrl+l")``) follow xdotool: ``+``-joined X keysym names
with the usual modifier aliases.  Characters (``type_text``) are X keysyms too:
Latin-1 as their code point, everything else as a Unicode keysym.
"""

from __future__ import annotations

from typing import Final

from Xlib import XK

__all__ = [
    "EVDEV",
    "MODIFIER_ALIASES",
    "char_keysyms",
    "is_keysym_name",
    "keysym_char",
    "keysym_of",
    "parse_combo",
    "scancode_of",
]

for _group in ("xkb", "latin2", "latin3", "latin4", "greek", "cyrillic", "publishing", "xf86"):
    XK.load_keysym_group(_group)

# KeyboardEvent.code -> Linux evdev key code (linux/input-event-codes.h)
EVDEV: Final[dict[str, int]] = {
    "Escape": 1,
    **{f"Digit{n}": 1 + n for n in range(1, 10)},
    "Digit0": 11,
    "Minus": 12,
    "Equal": 13,
    "Backspace": 14,
    "Tab": 15,
    **{f"Key{c}": 16 + i for i, c in enumerate("QWERTYUIOP")},
    "BracketLeft": 26,
    "BracketRight": 27,
    "Enter": 28,
    "ControlLeft": 29,
    **{f"Key{c}": 30 + i for i, c in enumerate("ASDFGHJKL")},
    "Semicolon": 39,
    "Quote": 40,
    "Backquote": 41,
    "ShiftLeft": 42,
    "Backslash": 43,
    **{f"Key{c}": 44 + i for i, c in enumerate("ZXCVBNM")},
    "Comma": 51,
    "Period": 52,
    "Slash": 53,
    "ShiftRight": 54,
    "NumpadMultiply": 55,
    "AltLeft": 56,
    "Space": 57,
    "CapsLock": 58,
    **{f"F{n}": 58 + n for n in range(1, 11)},
    "NumLock": 69,
    "ScrollLock": 70,
    "Numpad7": 71,
    "Numpad8": 72,
    "Numpad9": 73,
    "NumpadSubtract": 74,
    "Numpad4": 75,
    "Numpad5": 76,
    "Numpad6": 77,
    "NumpadAdd": 78,
    "Numpad1": 79,
    "Numpad2": 80,
    "Numpad3": 81,
    "Numpad0": 82,
    "NumpadDecimal": 83,
    "IntlBackslash": 86,
    "F11": 87,
    "F12": 88,
    "IntlRo": 89,
    "NumpadEnter": 96,
    "ControlRight": 97,
    "NumpadDivide": 98,
    "PrintScreen": 99,
    "AltRight": 100,
    "Home": 102,
    "ArrowUp": 103,
    "PageUp": 104,
    "ArrowLeft": 105,
    "ArrowRight": 106,
    "End": 107,
    "ArrowDown": 108,
    "PageDown": 109,
    "Insert": 110,
    "Delete": 111,
    "AudioVolumeMute": 113,
    "AudioVolumeDown": 114,
    "AudioVolumeUp": 115,
    "NumpadEqual": 117,
    "Pause": 119,
    "NumpadComma": 121,
    "IntlYen": 124,
    "MetaLeft": 125,
    "MetaRight": 126,
    "ContextMenu": 127,
    **{f"F{n}": 170 + n for n in range(13, 25)},
}

MODIFIER_ALIASES: Final[dict[str, str]] = {
    "ctrl": "Control_L",
    "control": "Control_L",
    "shift": "Shift_L",
    "alt": "Alt_L",
    "super": "Super_L",
    "win": "Super_L",
    "meta": "Super_L",
    "altgr": "ISO_Level3_Shift",
}
# keysyms that python-xlib's tables lack but layouts use
_EXTRA_KEYSYMS: Final[dict[str, int]] = {"EuroSign": 0x20AC}
_UNICODE_KEYSYM: Final = 0x01000000


def scancode_of(code: str) -> int | None:
    """The evdev code of a ``KeyboardEvent.code`` name, or None if it is no key we know."""
    return EVDEV.get(code)


def keysym_of(name: str) -> int:
    """The keysym of an X keysym name, a single character, or ``U20AC``; 0 if unknown."""
    if len(name) == 1:
        return char_keysyms(name)[0]
    if name in _EXTRA_KEYSYMS:
        return _EXTRA_KEYSYMS[name]
    if name[:1] == "U" and len(name) in (5, 6):
        try:
            return _UNICODE_KEYSYM + int(name[1:], 16)
        except ValueError:
            return 0
    return int(XK.string_to_keysym(name))


def is_keysym_name(name: str) -> bool:
    return keysym_of(name) != 0


def char_keysyms(ch: str) -> tuple[int, ...]:
    """The keysyms a layout may use for ``ch``: its legacy keysym first, then the Unicode one."""
    point = ord(ch)
    if ch == "\n":
        return (XK.XK_Return,)
    if ch == "\t":
        return (XK.XK_Tab,)
    if 0x20 <= point <= 0x7E or 0xA0 <= point <= 0xFF:
        return (point, _UNICODE_KEYSYM + point)
    if point == 0x20AC:
        return (0x20AC, _UNICODE_KEYSYM + point)
    return (_UNICODE_KEYSYM + point,)


def keysym_char(keysym: int) -> str | None:
    """The character a keysym types, where there is exactly one (None for keys like Return)."""
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if keysym == 0x20AC:
        return "€"
    if keysym > _UNICODE_KEYSYM:
        return chr(keysym - _UNICODE_KEYSYM)
    return None


def parse_combo(combo: str) -> list[str]:
    """``"ctrl+shift+Escape"`` -> ``["Control_L", "Shift_L", "Escape"]``.

    Raises
    ------
    ValueError
        An empty part or a name that is no X keysym (naming it).
    """
    names: list[str] = []
    parts = combo.split("+") if combo != "+" else ["plus"]
    for part in parts:
        name = MODIFIER_ALIASES.get(part.lower(), part) if len(part) > 1 else part
        if not part or not is_keysym_name(name):
            raise ValueError(f"unknown key name {part!r} in {combo!r}")
        names.append(name)
    return names
