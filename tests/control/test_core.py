"""The pure core of remote control: wire form, key tables, held table, gate, injector."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from zvkdiag._errors import ProtocolError
from zvkdiag.control.events import (
    MAX_BATCH_EVENTS,
    Button,
    Heartbeat,
    InputEvent,
    Key,
    KeySym,
    Move,
    ReleaseAll,
    Text,
    Wheel,
    encode_batch,
    parse_batch,
)
from zvkdiag.control.gate import CUSTOMER_PAUSE, EVENT_BURST, HEARTBEAT_TIMEOUT
from zvkdiag.control.injector import HOLD_LIMIT, Injector, Screen
from zvkdiag.control.keys import EVDEV, keysym_char, parse_combo


def test_wire_round_trip() -> None:
    events: list[InputEvent] = [
        Move(1, 2),
        Button(3, True),
        Wheel(0, -2),
        Key("KeyA", False),
        KeySym("Return", True),
        Text("Grüße\n"),
        ReleaseAll(),
        Heartbeat(),
    ]
    assert parse_batch(encode_batch(events)) == events


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        b"{}",
        json.dumps([{"t": "move", "x": -1, "y": 0}]).encode(),
        json.dumps([{"t": "move", "x": True, "y": 0}]).encode(),
        json.dumps([{"t": "button", "b": 4, "down": True}]).encode(),
        json.dumps([{"t": "wheel", "dx": 0, "dy": 51}]).encode(),
        json.dumps([{"t": "key", "code": "NoSuchKey", "down": True}]).encode(),
        json.dumps([{"t": "keysym", "name": "nosuchkeysym", "down": True}]).encode(),
        json.dumps([{"t": "text", "s": "x" * 5000}]).encode(),
        json.dumps([{"t": "text", "s": "\x1b[2J"}]).encode(),
        json.dumps([{"t": "shell"}]).encode(),
        json.dumps([{"t": "hb"}] * (MAX_BATCH_EVENTS + 1)).encode(),
    ],
)
def test_bad_batches_are_refused_whole(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_batch(bad)


def test_key_tables() -> None:
    assert len(set(EVDEV.values())) == len(EVDEV)  # one position, one code
    assert EVDEV["KeyA"] == 30 and EVDEV["AltRight"] == 100 and EVDEV["IntlBackslash"] == 86
    assert parse_combo("ctrl+shift+Escape") == ["Control_L", "Shift_L", "Escape"]
    assert parse_combo("altgr+q") == ["ISO_Level3_Shift", "q"]
    assert keysym_char(0x20AC) == "€" and keysym_char(0xFF0D) is None
    for bad in ("ctrl+", "ctrl+nosuch", ""):
        with pytest.raises(ValueError, match="unknown key name"):
            parse_combo(bad)


@dataclass
class Recorder:
    """An input backend that records what it would inject (a fake of the OS, not of zvkdiag)."""

    sent: list[tuple[str, int, bool]] = field(default_factory=list)

    def move(self, x: int, y: int) -> None:
        self.sent.append(("move", x * 10000 + y, True))

    def button(self, button: int, down: bool) -> None:
        self.sent.append(("button", button, down))

    def wheel(self, dx: int, dy: int) -> None:
        self.sent.append(("wheel", dy, True))

    def key_of_code(self, code: str) -> int:
        return EVDEV[code] + 8

    def key_of_keysym(self, keysym: int) -> tuple[int, tuple[int, ...]]:
        return (keysym & 0xFF, (50,) if keysym == ord("@") else ())

    def key(self, key: int, down: bool) -> None:
        self.sent.append(("key", key, down))

    def type_text(self, text: str) -> int:
        self.sent.append(("text", len(text), True))
        return 2 * len(text)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _injector() -> tuple[Injector, Recorder, Clock]:
    rec, clock = Recorder(), Clock()
    return Injector(rec, Screen(100, 50, 640, 480), clock=clock), rec, clock


def test_moves_are_offset_and_coalesced() -> None:
    inj, rec, _ = _injector()
    inj.apply([Move(1, 1), Move(2, 2), Move(3, 3), Button(1, True), Move(4, 4)])
    assert [s for s in rec.sent if s[0] == "move"] == [
        ("move", 103 * 10000 + 53, True),
        ("move", 104 * 10000 + 54, True),
    ]
    with pytest.raises(ProtocolError, match="outside the monitor"):
        inj.apply([Move(640, 0)])


def test_every_exit_releases_what_is_held() -> None:
    inj, rec, clock = _injector()
    inj.apply([Button(1, True), Key("ShiftLeft", True), Key("KeyA", True)])
    rec.sent.clear()
    clock.now += HEARTBEAT_TIMEOUT + 0.1  # the engineer fell silent
    assert inj.tick()
    assert sorted(rec.sent) == [("button", 1, False), ("key", 38, False), ("key", 50, False)]
    assert not inj.held
    rec.sent.clear()
    inj.apply([Key("KeyA", False)])  # a late release of a key no longer held: nothing sent
    assert rec.sent == []


def test_repeats_come_from_the_engineer_only() -> None:
    inj, rec, clock = _injector()
    inj.apply([Key("KeyA", True)])
    clock.now += 0.1
    inj.apply([Key("KeyA", True)])  # the browser's repeat: release and press again
    assert rec.sent[-2:] == [("key", 38, False), ("key", 38, True)]
    clock.now += 0.1
    inj.tick()
    assert ("key", 38, False) not in rec.sent[-1:]
    clock.now += HOLD_LIMIT  # no repeat, no release: let go before the OS repeats it
    inj.apply([Heartbeat()])
    inj.tick()
    assert rec.sent[-1] == ("key", 38, False)
    inj.apply([Key("ShiftLeft", True)])
    clock.now += 3 * HOLD_LIMIT
    inj.apply([Heartbeat()])
    inj.tick()
    assert 50 in inj.held.keys  # modifiers stay down as long as the engineer holds them


def test_customer_input_wins() -> None:
    inj, rec, clock = _injector()
    inj.apply([Button(3, True)])
    assert inj.customer_input()
    assert rec.sent[-1] == ("button", 3, False)  # nothing of ours stays down under their hand
    rec.sent.clear()
    inj.apply([Text("dropped"), Move(5, 5)])
    assert rec.sent == [] and inj.gate.dropped_paused == 2
    assert not inj.customer_input()  # still the same pause, extended
    clock.now += CUSTOMER_PAUSE + 0.01
    inj.apply([Text("ok")])
    assert rec.sent == [("text", 2, True)]


def test_a_flood_is_cut_and_counted_not_queued() -> None:
    inj, rec, clock = _injector()
    burst = [KeySym("a", True), KeySym("a", False)] * 200
    for _ in range(4):
        inj.apply(burst)  # 1600 events at one instant
    assert inj.gate.dropped_flood == 1600 - int(EVENT_BURST)
    clock.now += 1.0
    rec.sent.clear()
    inj.apply([Text("x")])
    assert rec.sent == [("text", 1, True)]  # nothing from the flood is replayed later


def test_keysym_modifiers_press_and_release_in_order() -> None:
    inj, rec, _ = _injector()
    inj.apply([KeySym("at", True), KeySym("at", False)])
    assert rec.sent == [
        ("key", 50, True),
        ("key", ord("@"), True),
        ("key", ord("@"), False),
        ("key", 50, False),
    ]
