"""The real agent tells the customer's UI when the screen is shared and when no longer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import mss
import pytest

import zvkdiag
from zvkdiag.consent.model import Scope, ScreenShared
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.xvfb import XServer

pytestmark = pytest.mark.x11

WAIT = 30.0


@pytest.fixture
def captured(screen: XServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[XServer]:
    """The in-process agent captures the test screen; one open connection keeps the
    X server from resetting between captures."""
    monkeypatch.setenv("DISPLAY", screen.display)
    with mss.MSS(display=screen.display):
        yield screen


def shared(ui: AutoConsent) -> list[bool]:
    return [e.active for e in ui.events if isinstance(e, ScreenShared)]


def test_screenshot_shares_and_unshares(captured: XServer, relay: RelayThread) -> None:
    ui = AutoConsent()
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        assert shared(ui) == []
        s.screenshot()
        # the picture may reach the engineer a moment before the op has wound up
        assert ui.wait_for(lambda: shared(ui) == [True, False], WAIT)
        s.screenshot()
        assert ui.wait_for(lambda: shared(ui) == [True, False, True, False], WAIT)


def test_denied_view_is_never_shown_as_shared(captured: XServer, relay: RelayThread) -> None:
    ui = AutoConsent(deny={"screen.view"})
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        with pytest.raises(zvkdiag.ConsentDenied):
            s.screenshot()
    assert shared(ui) == []


def test_revoke_ends_the_stream_and_says_so(captured: XServer, relay: RelayThread) -> None:
    ui = AutoConsent()
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):

        async def watch() -> list[bool]:
            seen = []
            async for _ in s.frames():
                seen = shared(ui)
                a.agent.revoke(Scope.SCREEN_VIEW)
            return seen

        while_streaming = asyncio.run(asyncio.wait_for(watch(), WAIT))
        assert while_streaming == [True]
        assert ui.wait_for(lambda: shared(ui) == [True, False], WAIT)
        assert not s.closed, "only the view ends, not the session"
