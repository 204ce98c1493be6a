"""Where remote control cannot work, the engineer is told why; nothing else breaks."""

from __future__ import annotations

import pytest

import zvkdiag
from zvkdiag.control.backend import open_backend
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread

from .conftest import Target


def test_wayland_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    with pytest.raises(zvkdiag.ControlUnavailable, match="Wayland"):
        open_backend()


def test_the_engineer_gets_control_unavailable_and_the_view_still_works(
    target: Target, relay: RelayThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    ui = AutoConsent()
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")  # the agent runs in this process
        with pytest.raises(zvkdiag.ControlUnavailable, match="Wayland"):
            s.control()
        assert not ui.requests[1:], "the customer is not asked for what cannot work"
        monkeypatch.delenv("XDG_SESSION_TYPE")
        assert s.screenshot().size == (800, 600)  # the session goes on
