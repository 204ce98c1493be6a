"""The one table of what the agent holds down: every exit path releases from it.

Pure bookkeeping.  The injector records each press and release it sends; on
revocation, session end, a dropped connection or a missed heartbeat it asks
``release_all`` for what is still down and sends exactly those releases, so no
key or button stays stuck on the customer's PC whatever ends control.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["HeldInputs"]


@dataclass
class HeldInputs:
    keys: set[int] = field(default_factory=set)  # backend key ids (X keycodes, scancodes)
    buttons: set[int] = field(default_factory=set)

    def key(self, key: int, down: bool) -> bool:
        """Record a key event; False when it changes nothing (a release of a key not held)."""
        return _flip(self.keys, key, down)

    def button(self, button: int, down: bool) -> bool:
        return _flip(self.buttons, button, down)

    def release_all(self) -> tuple[list[int], list[int]]:
        """What to release (keys, buttons), emptying the table."""
        keys, buttons = sorted(self.keys), sorted(self.buttons)
        self.keys.clear()
        self.buttons.clear()
        return keys, buttons

    def __bool__(self) -> bool:
        return bool(self.keys or self.buttons)


def _flip(held: set[int], item: int, down: bool) -> bool:
    if down:
        held.add(item)
        return True
    if item not in held:
        return False
    held.discard(item)
    return True
