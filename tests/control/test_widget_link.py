"""The screen widget's control wiring through the real relay, agent and SSH, typing into Tk.

The widget gets the browser's messages as ipywidgets would deliver them
(``_handle_custom_msg``); what it would send to the browser is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import zvkdiag
from zvkdiag.engineer.widget_control import ControlLink
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.xinput import CustomerDevice
from zvkdiag.widgets.screen import ScreenView

from .conftest import Target, held_down


class RecordingView(ScreenView):
    def __init__(self, **kwargs: Any) -> None:
        self.sent: list[dict[str, Any]] = []
        super().__init__(**kwargs)

    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.sent.append(content)

    def from_browser(self, content: dict[str, Any]) -> None:
        self._handle_custom_msg(content, [])

    def states(self) -> list[str]:
        return [c["state"] for c in self.sent if c.get("type") == "control_state"]


def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


def _tap(code: str, *mods: str) -> list[dict[str, Any]]:
    downs = [{"t": "key", "code": c, "down": True} for c in (*mods, code)]
    ups = [{"t": "key", "code": c, "down": False} for c in (code, *reversed(mods))]
    return downs + ups


def test_browser_messages_control_the_customers_screen(target: Target, relay: RelayThread) -> None:
    with (
        AgentThread(AutoConsent(), relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        link = ControlLink(s, 0)
        view = RecordingView(control=link)
        assert view.controllable
        view.from_browser({"type": "input", "events": _tap("KeyX")})
        assert _until(lambda: link.dropped_inactive == 1)  # nothing controls yet

        view.from_browser({"type": "control", "want": True})
        assert _until(lambda: view.states()[-1:] == ["on"]), view.states()
        assert view.states()[0] == "asking"
        view.from_browser({"type": "input", "events": _tap("KeyH", "ShiftLeft") + _tap("KeyI")})
        view.from_browser({"type": "input", "events": [{"t": "key", "code": "Nope", "down": True}]})
        assert target.wait_text("Hi") == "Hi"
        assert link.rejected == 1

        view.from_browser(
            {"type": "input", "events": [{"t": "key", "code": "ControlLeft", "down": True}]}
        )
        assert _until(lambda: 37 in held_down(target.display)[0])
        view.from_browser({"type": "control", "want": False})
        assert _until(lambda: view.states()[-1:] == ["off"])
        assert held_down(target.display) == ([], 0)  # giving back lets go of Ctrl
        view.from_browser({"type": "input", "events": _tap("KeyX")})
        assert _until(lambda: link.dropped_inactive == 2)
        assert target.text() == "Hi"


def test_a_refusal_shows_as_denied(target: Target, relay: RelayThread) -> None:
    with (
        AgentThread(AutoConsent(deny={"screen.control"}), relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        view = RecordingView(control=ControlLink(s, 0))
        view.from_browser({"type": "control", "want": True})
        assert _until(lambda: view.states()[-1:] == ["denied"]), view.states()
        view.from_browser({"type": "input", "events": _tap("KeyX")})
        time.sleep(0.3)
        assert target.text() == ""


def test_the_customers_own_mouse_shows_as_paused(target: Target, relay: RelayThread) -> None:
    with (
        AgentThread(AutoConsent(), relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        view = RecordingView(control=ControlLink(s, 0))
        view.from_browser({"type": "control", "want": True})
        assert _until(lambda: view.states()[-1:] == ["on"]), view.states()
        with CustomerDevice(target.display) as hand:
            for x in range(100, 200, 10):
                hand.move(x, 100)
                time.sleep(0.02)
            assert _until(lambda: "paused" in view.states(), 5), view.states()
        assert _until(lambda: view.states()[-1:] == ["on"], 5), view.states()  # after ~1 s
        texts = [c["text"] for c in view.sent if c.get("state") == "paused"]
        assert "Kunde bedient selbst" in texts[0]


def test_giving_back_while_the_customer_is_asked_ends_off(
    target: Target, relay: RelayThread
) -> None:
    ui = AutoConsent(delay=0.5)
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        link = ControlLink(s, 0)
        view = RecordingView(control=link)
        view.from_browser({"type": "control", "want": True})
        assert _until(lambda: view.states()[-1:] == ["asking"])
        view.from_browser({"type": "control", "want": False})
        assert _until(lambda: any(r.scope.value == "screen.control" for r in ui.requests))
        time.sleep(1.0)  # the customer's "yes" arrives after the engineer gave back
        assert view.states()[-1] == "off" and link.control is None
        view.from_browser({"type": "input", "events": _tap("KeyX")})
        assert _until(lambda: link.dropped_inactive == 1)
        assert target.text() == ""


def test_zeigen_moves_the_marker_and_never_clicks(target: Target, relay: RelayThread) -> None:
    from zvkdiag.consent.model import PointerShown

    ui = AutoConsent()
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        view = RecordingView(control=ControlLink(s, 0))
        for x in range(100, 400, 10):  # a pointer sweep: the newest position wins
            view.from_browser({"type": "point", "x": x, "y": 50})
        assert ui.wait_for(lambda: PointerShown((390, 50)) in ui.events)
        view.from_browser({"type": "point"})  # pointer left the canvas
        assert ui.wait_for(lambda: ui.events[-1] == PointerShown(None))
        view.from_browser({"type": "point", "x": 5000, "y": 1})
        assert _until(lambda: any("Zeigen" in c.get("text", "") for c in view.sent))
    shown = [e for e in ui.events if isinstance(e, PointerShown)]
    assert len(shown) < 30, "moves are coalesced, not one request each"
    assert target.text() == "" and held_down(target.display) == ([], 0)


def test_zeigen_refused_is_said(target: Target, relay: RelayThread) -> None:
    ui = AutoConsent(deny={"screen.point"})
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        view = RecordingView(control=ControlLink(s, 0))
        view.from_browser({"type": "point", "x": 10, "y": 10})
        assert _until(lambda: any("declined" in c.get("text", "") for c in view.sent)), view.sent
