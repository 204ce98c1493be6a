"""Applies validated input events to a backend, keeping the held-keys table and the gate.

Synchronous and free of sockets: the agent's op feeds it batches and ticks it;
tests drive it with a recording backend and a fake clock.

Auto-repeat comes from the engineer's side only.  A key the engineer holds is
pressed again for every repeat they send (release + press, as X's own repeat
does), and a non-modifier key that has not been refreshed for ``HOLD_LIMIT``
seconds is let go, before the customer's system would start repeating it on
its own: no doubled repeats, and no key stuck down by a lost "up".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from zvkdiag._errors import ProtocolError
from zvkdiag.control.backend import InputBackend
from zvkdiag.control.events import (
    Button,
    Heartbeat,
    InputEvent,
    Key,
    KeySym,
    Move,
    ReleaseAll,
    Text,
    Wheel,
)
from zvkdiag.control.gate import InputGate
from zvkdiag.control.held import HeldInputs
from zvkdiag.control.keys import keysym_of

__all__ = ["HOLD_LIMIT", "MODIFIER_CODES", "MODIFIER_KEYSYMS", "Injector", "Screen"]

HOLD_LIMIT: Final = 0.5
"""Seconds a non-modifier key stays down without a repeat (X starts repeating at 0.66 s)."""
MODIFIER_CODES: Final = frozenset(
    {
        "ShiftLeft",
        "ShiftRight",
        "ControlLeft",
        "ControlRight",
        "AltLeft",
        "AltRight",
        "MetaLeft",
        "MetaRight",
        "CapsLock",
    }
)

MODIFIER_KEYSYMS: Final = frozenset(
    {
        "Shift_L",
        "Shift_R",
        "Control_L",
        "Control_R",
        "Alt_L",
        "Alt_R",
        "Meta_L",
        "Meta_R",
        "Super_L",
        "Super_R",
        "ISO_Level3_Shift",
        "Caps_Lock",
    }
)


@dataclass(frozen=True)
class Screen:
    """The viewed monitor: engineer coordinates are relative to its top left."""

    left: int
    top: int
    width: int
    height: int


class Injector:
    def __init__(
        self,
        backend: InputBackend,
        screen: Screen,
        *,
        clock: Callable[[], float],
    ) -> None:
        self.backend = backend
        self.screen = screen
        self.clock = clock
        self.held = HeldInputs()
        self.gate = InputGate(clock())
        self.counts: Counter[str] = Counter()
        self._pressed_at: dict[int, float] = {}  # non-modifier keys: when last pressed
        self._modifiers: set[int] = set()

    # -- from the engineer -----------------------------------------------------------------
    def apply(self, events: list[InputEvent]) -> None:
        """Inject one batch (moves coalesced); events the gate refuses are dropped and counted."""
        now = self.clock()
        self.gate.heard(now)
        for event in _coalesced(events):
            if isinstance(event, Heartbeat):
                continue
            if isinstance(event, ReleaseAll):
                self.release_all()
            elif self.gate.admit(now):
                self._inject(event, now)
        self.backend.flush()

    def _inject(self, event: InputEvent, now: float) -> None:
        match event:
            case Move(x, y):
                if x >= self.screen.width or y >= self.screen.height:
                    raise ProtocolError(f"pointer position ({x}, {y}) is outside the monitor")
                self.backend.move(self.screen.left + x, self.screen.top + y)
                self.counts["moves"] += 1
            case Button(button, down):
                if self.held.button(button, down):
                    self.backend.button(button, down)
                    self.counts["clicks"] += down
            case Wheel(dx, dy):
                self.backend.wheel(dx, dy)
                self.counts["wheel_steps"] += abs(dx) + abs(dy)
            case Key(code, down):
                key = self.backend.key_of_code(code)
                if code in MODIFIER_CODES:
                    self._modifiers.add(key)
                self._key(key, down, now)
            case KeySym(name, down):
                key, mods = self.backend.key_of_keysym(keysym_of(name))
                self._modifiers.update(mods)
                if name in MODIFIER_KEYSYMS:
                    self._modifiers.add(key)
                for m in mods if down else ():
                    self._key(m, True, now)
                self._key(key, down, now)
                for m in reversed(mods) if not down else ():
                    self._key(m, False, now)
            case Text(text):
                self.counts["key_events"] += self.backend.type_text(text)
                self.counts["text_chars"] += len(text)

    def _key(self, key: int, down: bool, now: float) -> None:
        if down and key in self.held.keys and key not in self._modifiers:
            self.backend.key(key, False)  # a repeat: release and press again
        elif not self.held.key(key, down):
            return  # a release of a key we do not hold
        self.backend.key(key, down)
        self.counts["key_events"] += 1
        if down and key not in self._modifiers:
            self._pressed_at[key] = now
        else:
            self._pressed_at.pop(key, None)

    # -- from the agent --------------------------------------------------------------------
    def tick(self) -> bool:
        """Called often: release stale keys, and everything if the engineer fell silent.

        Returns True when the engineer's heartbeat is overdue (everything was released).
        """
        now = self.clock()
        stale = [k for k, at in self._pressed_at.items() if now - at > HOLD_LIMIT]
        for key in stale:
            self._key(key, False, now)
        overdue = self.gate.overdue(now)
        if overdue and self.held:
            self.release_all()
        elif stale:
            self.backend.flush()
        return overdue

    def customer_input(self) -> bool:
        """The customer moved or typed: pause injection; True if this starts a pause."""
        starts = self.gate.customer_input(self.clock())
        if starts and self.held:
            self.release_all()
        return starts

    @property
    def paused(self) -> bool:
        return self.gate.paused(self.clock())

    def release_all(self) -> None:
        """Let go of every key and button still held (modifiers last)."""
        keys, buttons = self.held.release_all()
        for button in buttons:
            self.backend.button(button, False)
        for key in sorted(keys, key=lambda k: k in self._modifiers):
            self.backend.key(key, False)
        self._pressed_at.clear()
        self.backend.flush()
        self.counts["releases"] += len(keys) + len(buttons)


def _coalesced(events: list[InputEvent]) -> list[InputEvent]:
    """Drop every pointer move that another move follows directly: only the last one matters."""
    return [
        e
        for i, e in enumerate(events)
        if not (isinstance(e, Move) and i + 1 < len(events) and isinstance(events[i + 1], Move))
    ]
