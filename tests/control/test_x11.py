"""The X11 backend on a real X screen with a German layout, typing into a real Tk field."""

from __future__ import annotations

import itertools

from zvkdiag.control.events import Key, KeySym, Text
from zvkdiag.control.injector import Injector, Screen
from zvkdiag.control.x11 import X11Input

from .conftest import GERMAN, Target, held_down

_ticks = itertools.count()


def _injector(display: str) -> Injector:
    return Injector(X11Input(display), Screen(0, 0, 800, 600), clock=lambda: next(_ticks) * 0.001)


def _tap(code: str, *mods: str) -> list[Key]:
    return [
        *(Key(m, True) for m in mods),
        Key(code, True),
        Key(code, False),
        *(Key(m, False) for m in reversed(mods)),
    ]


def test_type_text_arrives_exactly(target: Target) -> None:
    inj = _injector(target.display)
    inj.apply([Text(GERMAN)])
    assert target.wait_text(GERMAN) == GERMAN
    inj.backend.close()


def test_text_beyond_the_layout_uses_the_text_path(target: Target) -> None:
    inj = _injector(target.display)
    text = "Ωμέγα ✓ → ½"  # none of these is on a German keyboard
    inj.apply([Text(text)])
    assert target.wait_text(text) == text
    inj.backend.close()


def test_key_positions_give_the_customers_layout(target: Target) -> None:
    # what a German engineer's browser sends for "Grüße @€{[]}\|~" typed on a German keyboard
    shift, altgr = "ShiftLeft", "AltRight"
    events = [
        *_tap("KeyG", shift),
        *_tap("KeyR"),
        *_tap("BracketLeft"),  # ü
        *_tap("Minus"),  # ß
        *_tap("KeyE"),
        *_tap("Space"),
        *_tap("KeyQ", altgr),  # @
        *_tap("KeyE", altgr),  # €
        *_tap("Digit7", altgr),
        *_tap("Digit8", altgr),
        *_tap("Digit9", altgr),
        *_tap("Digit0", altgr),
        *_tap("Minus", altgr),  # backslash
        *_tap("IntlBackslash", altgr),  # |
        *_tap("BracketRight", altgr),  # ~
    ]
    inj = _injector(target.display)
    inj.apply(events)
    expected = "Grüße @€{[]}\\|~"
    assert target.wait_text(expected) == expected
    assert held_down(target.display) == ([], 0)
    inj.backend.close()


def test_dead_keys_compose(target: Target) -> None:
    events = [
        *_tap("Backquote"),  # dead circumflex
        *_tap("KeyO"),
        *_tap("Equal"),  # dead acute
        *_tap("KeyE"),
        *_tap("Equal", "ShiftLeft"),  # dead grave
        *_tap("KeyA"),
        *_tap("Backquote"),
        *_tap("Space"),
    ]
    inj = _injector(target.display)
    inj.apply(events)
    assert target.wait_text("ôéà^") == "ôéà^"
    inj.backend.close()


def test_shift_and_caps_lock(target: Target) -> None:
    inj = _injector(target.display)
    inj.apply([*_tap("CapsLock"), *_tap("KeyA"), *_tap("KeyB", "ShiftLeft")])
    assert target.wait_text("Ab") == "Ab"
    inj.apply([Text("xY")])  # the text path honours the lock the customer has on
    assert target.wait_text("AbxY") == "AbxY"
    inj.apply(_tap("CapsLock"))
    inj.backend.close()


def test_key_names_and_release_all(target: Target) -> None:
    inj = _injector(target.display)
    inj.apply([KeySym("at", True), KeySym("at", False), KeySym("Return", True)])
    inj.apply([Key("ControlLeft", True), Key("ShiftLeft", True)])
    keys, _ = held_down(target.display)
    assert len(keys) == 3  # Return, Control, Shift
    inj.release_all()
    assert held_down(target.display) == ([], 0)
    assert target.wait_text("@\n") == "@\n"
    inj.backend.close()
