"""Pointing and the text clipboard through the real relay, agent and SSH, each with its consent."""

from __future__ import annotations

import pytest

import zvkdiag
from zvkdiag.consent.model import PointerShown, Scope
from zvkdiag.control.events import MAX_CLIPBOARD
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread

from .conftest import Target


def _connect(a: AgentThread, relay: RelayThread) -> zvkdiag.Session:
    return zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="Erika Muster")


def test_point_shows_and_hides_the_marker(target: Target, relay: RelayThread) -> None:
    ui = AutoConsent()
    with AgentThread(ui, relay=relay.address) as a, _connect(a, relay) as s:
        s.point(120, 80)
        s.point(300, 200)
        s.point()
        with pytest.raises(ValueError):
            s.point(5)  # x without y
        with pytest.raises(zvkdiag.ProtocolError, match="outside the monitor"):
            s.point(800, 10)
    shown = [e for e in ui.events if isinstance(e, PointerShown)]
    assert shown == [PointerShown((120, 80)), PointerShown((300, 200)), PointerShown(None)]
    assert [q.scope for q in ui.requests].count(Scope.SCREEN_POINT) == 1  # standing
    assert target.text() == "", "pointing never clicks or types"


def test_point_needs_its_consent(target: Target, relay: RelayThread) -> None:
    ui = AutoConsent(deny={"screen.point"})
    with AgentThread(ui, relay=relay.address) as a, _connect(a, relay) as s:
        with pytest.raises(zvkdiag.ConsentDenied):
            s.point(10, 10)
    assert not [e for e in ui.events if isinstance(e, PointerShown)]


def test_clipboard_both_ways_each_asked(relay: RelayThread) -> None:
    ui = AutoConsent()
    ui.clipboard.text = "Vertragsnummer 4711"
    with AgentThread(ui, relay=relay.address) as a, _connect(a, relay) as s:
        assert s.clipboard_get() == "Vertragsnummer 4711"
        s.clipboard_send("https://portal.example/login – Grüße")
        assert s.clipboard_get() == "https://portal.example/login – Grüße"
        audit = s.audit()
    asked = [(q.scope, q.detail.get("text")) for q in ui.requests if "clipboard" in q.scope.value]
    assert asked == [  # the customer saw each text before it moved
        (Scope.CLIPBOARD_GET, "Vertragsnummer 4711"),
        (Scope.CLIPBOARD_SEND, "https://portal.example/login – Grüße"),
        (Scope.CLIPBOARD_GET, "https://portal.example/login – Grüße"),
    ]
    assert [r["kind"] for r in audit if r["kind"].startswith("clipboard.")] == [
        "clipboard.get",
        "clipboard.send",
        "clipboard.get",
    ]


def test_clipboard_refused_and_bounded(relay: RelayThread) -> None:
    ui = AutoConsent(deny={"clipboard.send", "clipboard.get"})
    ui.clipboard.text = "geheim"
    with AgentThread(ui, relay=relay.address) as a, _connect(a, relay) as s:
        with pytest.raises(zvkdiag.ConsentDenied):
            s.clipboard_send("neu")
        with pytest.raises(zvkdiag.ConsentDenied):
            s.clipboard_get()
        with pytest.raises(ValueError, match="64"):
            s.clipboard_send("x" * (MAX_CLIPBOARD + 1))
    assert ui.clipboard.text == "geheim"
