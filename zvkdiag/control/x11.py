"""X11 input through XTEST (python-xlib): what the customer's X server sees as real input.

XTEST events go through the server's normal input path, so every program
receives them exactly like a key or click of the customer's own (``XSendEvent``
would be ignored by many).  Keys are physical positions: evdev code + 8 is the
X keycode on every server with evdev keycodes, and the customer's XKB layout
turns them into characters.

Characters that the layout cannot type at any of its first four levels are
typed through a spare keycode bound to the character (what ``xdotool type``
does).  The binding stays until control has ended and a grace has passed: a
client that reads its key events late looks them up in the keymap as it is then.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Final

from Xlib import XK, X, display, error
from Xlib.ext import xtest

from zvkdiag._errors import ControlUnavailable
from zvkdiag.control.keys import char_keysyms, scancode_of

__all__ = ["X11Input"]

log = logging.getLogger(__name__)

EVDEV_OFFSET: Final = 8
# core keymap columns of XKB's group 1: level 1, 2 at 0, 1; level 3, 4 at 4, 5
_LEVEL_COLUMNS: Final = ((0, ()), (1, ("shift",)), (4, ("level3",)), (5, ("shift", "level3")))
_WHEEL: Final = {(0, -1): 4, (0, 1): 5, (-1, 0): 6, (1, 0): 7}
UNBIND_GRACE: Final = 3.0
"""Seconds after control ends before the characters bound to spare keys are unbound."""
REMAP_SETTLE: Final = 0.02
"""Seconds clients get to read the changed keymap before a bound spare key is pressed."""


class X11Input:
    """Injects pointer and keyboard input into an X display.

    Raises
    ------
    ControlUnavailable
        The display cannot be opened or has no XTEST extension.
    """

    def __init__(self, display_name: str | None = None) -> None:
        try:
            self._d = display.Display(display_name)
        except (error.DisplayError, OSError) as exc:
            raise ControlUnavailable(f"No X display for remote control: {exc}") from exc
        if not self._d.has_extension("XTEST"):
            self._d.close()
            raise ControlUnavailable("This X server has no XTEST extension: no remote control.")
        self._root = self._d.screen().root
        self._bound: dict[int, int] = {}  # keysym -> spare keycode bound to it
        self._load_keymap()

    # -- keymap ----------------------------------------------------------------------------
    def _load_keymap(self) -> None:
        info = self._d.display.info
        first, last = info.min_keycode, info.max_keycode
        rows = self._d.get_keyboard_mapping(first, last - first + 1)
        self._first = first
        self._rows = [list(row) for row in rows]
        self._where: dict[int, tuple[int, tuple[str, ...]]] = {}
        for mods_col, mods in _LEVEL_COLUMNS:
            for offset, row in enumerate(self._rows):
                if mods_col < len(row) and row[mods_col]:
                    self._where.setdefault(row[mods_col], (first + offset, mods))
        self._spare = [
            first + i for i, row in enumerate(self._rows) if not any(row) and first + i > 8
        ][::-1]
        self._modifier_keys = {
            "shift": self._keycode_of(XK.XK_Shift_L),
            "level3": self._keycode_of(XK.string_to_keysym("ISO_Level3_Shift")),
        }
        up = self._keycode_of(XK.XK_Up)
        if up not in (0, (scancode_of("ArrowUp") or 0) + EVDEV_OFFSET):
            log.warning("X keycodes are not evdev codes (Up is %d); key positions may be off", up)

    def _keycode_of(self, keysym: int) -> int:
        where = self._where.get(keysym)
        return where[0] if where else 0

    def key_of_code(self, code: str) -> int:
        evdev = scancode_of(code)
        if evdev is None:
            raise ValueError(f"unknown key code {code!r}")
        return evdev + EVDEV_OFFSET

    def key_of_keysym(self, keysym: int) -> tuple[int, tuple[int, ...]]:
        where = self._where.get(keysym)
        if where is None:
            return self._bind([keysym])[keysym], ()
        keycode, mods = where
        needed = tuple(self._modifier_keys[m] for m in mods)
        if 0 in needed:  # the layout has no key for that level: bind a spare one instead
            return self._bind([keysym])[keysym], ()
        return keycode, needed

    def _bind(self, keysyms: list[int]) -> dict[int, int]:
        """Bind each keysym to a spare keycode (both levels), once; returns keysym -> keycode."""
        fresh = [k for k in dict.fromkeys(keysyms) if k not in self._bound]
        if len(fresh) > len(self._spare):
            self._unbind()  # make room: whatever was bound before is typed by now
            fresh = list(dict.fromkeys(keysyms))
        if len(fresh) > len(self._spare):
            raise ValueError(f"text needs {len(fresh)} characters the keymap cannot hold at once")
        for keysym in fresh:
            keycode = self._spare.pop()
            self._d.change_keyboard_mapping(keycode, [(keysym, keysym)])
            self._bound[keysym] = keycode
        if fresh:
            self._d.sync()
            time.sleep(REMAP_SETTLE)
        return {k: self._bound[k] for k in keysyms}

    def _unbind(self) -> None:
        for keycode in self._bound.values():
            self._d.change_keyboard_mapping(keycode, [(0, 0)])
            self._spare.append(keycode)
        self._bound.clear()
        self._d.sync()

    # -- events ----------------------------------------------------------------------------
    def move(self, x: int, y: int) -> None:
        xtest.fake_input(self._d, X.MotionNotify, detail=0, root=self._root, x=x, y=y)

    def button(self, button: int, down: bool) -> None:
        xtest.fake_input(self._d, X.ButtonPress if down else X.ButtonRelease, button)

    def wheel(self, dx: int, dy: int) -> None:
        for direction, steps in (((_sign(dx), 0), abs(dx)), ((0, _sign(dy)), abs(dy))):
            for _ in range(steps):
                self.button(_WHEEL[direction], True)
                self.button(_WHEEL[direction], False)

    def key(self, key: int, down: bool) -> None:
        xtest.fake_input(self._d, X.KeyPress if down else X.KeyRelease, key)

    def type_text(self, text: str) -> int:
        lock = bool(self._root.query_pointer().mask & X.LockMask)
        found = {ch: self._find_char(ch, lock) for ch in set(text)}
        bound = self._bind([char_keysyms(ch)[0] for ch, at in found.items() if at is None])
        sent = 0
        for ch in text:
            keycode, mods = found[ch] or (bound[char_keysyms(ch)[0]], ())
            for m in mods:
                self.key(m, True)
            self.key(keycode, True)
            self.key(keycode, False)
            for m in reversed(mods):
                self.key(m, False)
            sent += 2 + 2 * len(mods)
        self._d.sync()
        return sent

    def _find_char(self, ch: str, caps_locked: bool) -> tuple[int, tuple[int, ...]] | None:
        """The key and modifier keys that type ``ch`` in this layout; None if it has none."""
        for keysym in char_keysyms(ch):
            where = self._where.get(keysym)
            if where is None:
                continue
            keycode, mods = where
            if caps_locked and ch.lower() != ch.upper():  # Lock inverts Shift for letters
                mods = (
                    tuple(m for m in mods if m != "shift") if "shift" in mods else ("shift", *mods)
                )
            needed = tuple(self._modifier_keys[m] for m in mods)
            if 0 not in needed:
                return keycode, needed
        return None

    def flush(self) -> None:
        self._d.sync()

    def close(self) -> None:
        """Disconnect; spare keys bound to characters are unbound ``UNBIND_GRACE`` later.

        A busy program may still be reading the last typed keys, and it looks each
        one up in the keymap as it reads it: unbinding at once would lose them.
        The timer is no daemon, so even the program's exit waits for the unbinding.
        """
        if self._bound:
            threading.Timer(UNBIND_GRACE, self._unbind_and_close).start()
        else:
            self._unbind_and_close()

    def _unbind_and_close(self) -> None:
        with contextlib.suppress(Exception):
            if self._bound:
                self._unbind()
            self._d.close()


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _toggle_shift(mods: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(m for m in mods if m != "shift") if "shift" in mods else ("shift", *mods)
