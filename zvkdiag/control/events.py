"""Remote-control input events: what travels on the ``screen.control`` channel.

Pure data and validation, no I/O.  The engineer's side (Python API or the
browser canvas) sends batches of events as JSON arrays, one framed message per
batch; the customer's agent parses each batch with ``parse_batch``, which
rejects anything out of bounds before a single event is injected.

Wire form, one object per event (``t`` names the kind)::

    {"t": "move", "x": 640, "y": 400}             absolute pixels of the viewed monitor
    {"t": "button", "b": 1, "down": true}         1 left, 2 middle, 3 right
    {"t": "wheel", "dx": 0, "dy": -3}             whole notches; dy < 0 scrolls up
    {"t": "key", "code": "KeyA", "down": true}    a physical key (KeyboardEvent.code)
    {"t": "keysym", "name": "Return", "down": true}  a key by X keysym name
    {"t": "text", "s": "Grüße"}                   characters, typed through the layout
    {"t": "release"}                              let go of every key and button
    {"t": "hb"}                                   heartbeat (nothing else to send)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from zvkdiag._errors import ProtocolError
from zvkdiag.control.keys import is_keysym_name, scancode_of

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "MAX_CLIPBOARD",
    "MAX_COORDINATE",
    "MAX_TEXT",
    "MAX_WHEEL_STEPS",
    "Button",
    "Heartbeat",
    "InputEvent",
    "Key",
    "KeySym",
    "Move",
    "ReleaseAll",
    "Text",
    "Wheel",
    "encode_batch",
    "parse_batch",
]

MAX_CLIPBOARD: Final = 64 * 1024
"""Bytes of text one clipboard transfer may carry (UTF-8)."""
MAX_TEXT: Final = 4096
"""Characters in one text event (``type_text`` splits longer text)."""
MAX_BATCH_EVENTS: Final = 256
MAX_BATCH_BYTES: Final = 64 * 1024
MAX_COORDINATE: Final = 32767
MAX_WHEEL_STEPS: Final = 50
BUTTONS: Final = frozenset({1, 2, 3})


@dataclass(frozen=True)
class Move:
    x: int
    y: int


@dataclass(frozen=True)
class Button:
    button: int
    down: bool


@dataclass(frozen=True)
class Wheel:
    dx: int
    dy: int


@dataclass(frozen=True)
class Key:
    """A physical key by its ``KeyboardEvent.code`` name; the customer's layout gives it meaning."""

    code: str
    down: bool


@dataclass(frozen=True)
class KeySym:
    """A key by X keysym name (``Return``, ``l``, ``Control_L``); found in the customer's keymap."""

    name: str
    down: bool


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ReleaseAll:
    pass


@dataclass(frozen=True)
class Heartbeat:
    pass


InputEvent = Move | Button | Wheel | Key | KeySym | Text | ReleaseAll | Heartbeat


def _int(obj: dict[str, Any], name: str, low: int, high: int) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProtocolError(f"control event {obj.get('t')!r}: {name} must be {low}..{high}")
    return value


def _bool(obj: dict[str, Any], name: str) -> bool:
    value = obj.get(name)
    if not isinstance(value, bool):
        raise ProtocolError(f"control event {obj.get('t')!r}: {name} must be true or false")
    return value


def _str(obj: dict[str, Any], name: str, limit: int) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ProtocolError(f"control event {obj.get('t')!r}: {name} must be 1..{limit} chars")
    return value


def _parse_one(obj: object) -> InputEvent:
    if not isinstance(obj, dict):
        raise ProtocolError("a control event is a JSON object")
    match obj.get("t"):
        case "move":
            return Move(_int(obj, "x", 0, MAX_COORDINATE), _int(obj, "y", 0, MAX_COORDINATE))
        case "button":
            button = _int(obj, "b", 1, 3)
            return Button(button, _bool(obj, "down"))
        case "wheel":
            steps = MAX_WHEEL_STEPS
            return Wheel(_int(obj, "dx", -steps, steps), _int(obj, "dy", -steps, steps))
        case "key":
            code = _str(obj, "code", 40)
            if scancode_of(code) is None:
                raise ProtocolError(f"unknown key code {code!r}")
            return Key(code, _bool(obj, "down"))
        case "keysym":
            name = _str(obj, "name", 40)
            if not is_keysym_name(name):
                raise ProtocolError(f"unknown key name {name!r}")
            return KeySym(name, _bool(obj, "down"))
        case "text":
            text = _str(obj, "s", MAX_TEXT)
            if any(ord(ch) < 0x20 and ch not in "\n\t" for ch in text):
                raise ProtocolError("text may not contain control characters other than \\n, \\t")
            return Text(text)
        case "release":
            return ReleaseAll()
        case "hb":
            return Heartbeat()
        case kind:
            raise ProtocolError(f"unknown control event {kind!r}")


def parse_batch(blob: bytes) -> list[InputEvent]:
    """Parse and validate one batch; a bad event rejects the whole batch (nothing injected)."""
    if len(blob) > MAX_BATCH_BYTES:
        raise ProtocolError(f"a control batch is at most {MAX_BATCH_BYTES} bytes")
    try:
        items = json.loads(blob)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("a control batch is not JSON") from exc
    if not isinstance(items, list) or len(items) > MAX_BATCH_EVENTS:
        raise ProtocolError(f"a control batch is a list of at most {MAX_BATCH_EVENTS} events")
    return [_parse_one(item) for item in items]


def _wire(event: InputEvent) -> dict[str, object]:
    match event:
        case Move(x, y):
            return {"t": "move", "x": x, "y": y}
        case Button(button, down):
            return {"t": "button", "b": button, "down": down}
        case Wheel(dx, dy):
            return {"t": "wheel", "dx": dx, "dy": dy}
        case Key(code, down):
            return {"t": "key", "code": code, "down": down}
        case KeySym(name, down):
            return {"t": "keysym", "name": name, "down": down}
        case Text(text):
            return {"t": "text", "s": text}
        case ReleaseAll():
            return {"t": "release"}
        case Heartbeat():
            return {"t": "hb"}
    raise TypeError(f"not a control event: {event!r}")


def encode_batch(events: list[InputEvent]) -> bytes:
    return json.dumps([_wire(e) for e in events], separators=(",", ":")).encode()
