"""The engineer sees a dropped connection: Session state, subscribers, widgets.

Real relay process, real agent, a ``CuttableLink`` between both sides and the
relay; the widgets run without a browser (their synced traits are what the
browser would draw).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future

import pytest

import zvkdiag
from zvkdiag.consent.model import ConnectionInterrupted, ConnectionRestored, SessionEnded
from zvkdiag.engineer.link import LinkState, LinkWatch
from zvkdiag.testing.cut import CuttableLink
from zvkdiag.testing.fakes import AgentThread, AutoConsent
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.xvfb import xvfb
from zvkdiag.widgets import ConnectPanel
from zvkdiag.widgets.screen import LINK_TEXTS, ScreenView

GRACE = 30.0  # never runs out in the tests that resume


@pytest.fixture
def relay() -> Iterator[str]:
    p = Proc("relay", "--listen", "127.0.0.1:0")
    yield p.expect(r"Relay listening on (\S+)").group(1)
    p.stop()


class Seen:
    """A subscriber that records each state and lets the test wait for one."""

    def __init__(self) -> None:
        self.states: list[LinkState] = []
        self._changed = threading.Condition()

    def __call__(self, state: LinkState) -> None:
        with self._changed:
            self.states.append(state)
            self._changed.notify_all()

    def phases(self) -> list[str]:
        return [s.phase for s in self.states]

    def wait_for(self, phases: list[str], timeout: float = 20) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.phases() == phases, timeout)


@contextlib.contextmanager
def _cut_session(relay: str, ui: AutoConsent) -> Iterator[tuple[CuttableLink, zvkdiag.Session]]:
    """Agent and session both reach the relay through one link that the test can cut."""
    with (
        CuttableLink(relay) as link,
        AgentThread(ui, relay=link.address, resume_grace=GRACE) as agent,
        zvkdiag.connect(
            agent.session_id, agent.password, relay=link.address, engineer="E", resume_grace=GRACE
        ) as s,
    ):
        yield link, s


def _events(ui: AutoConsent, kind: type) -> int:
    return sum(isinstance(e, kind) for e in ui.events)


def test_link_watch_reports_changes_once_and_ends_for_good() -> None:
    clock = iter([10.0, 11.0, 12.0, 13.0])
    watch = LinkWatch(clock=lambda: next(clock))
    seen = Seen()
    unsubscribe = watch.subscribe(seen)
    watch.on_event("interrupted")
    watch.on_event("interrupted")  # a second carrier loss while resuming: no new state
    watch.on_event("refused")
    watch.on_event("restored")
    watch.end("gone")
    watch.on_event("restored")
    assert seen.phases() == ["interrupted", "connected", "ended"]
    assert seen.states[0].since == 11.0 and seen.states[-1].reason == "gone"
    assert watch.state.phase == "ended"
    unsubscribe()
    unsubscribe()  # twice is harmless


def test_a_broken_subscriber_does_not_stop_the_others() -> None:
    watch = LinkWatch()
    seen = Seen()

    def broken(_: LinkState) -> None:
        raise RuntimeError("widget bug")

    watch.subscribe(broken)
    watch.subscribe(seen)
    watch.on_event("interrupted")
    assert seen.phases() == ["interrupted"]


def test_a_cut_shows_as_interrupted_and_a_call_made_meanwhile_completes(relay: str) -> None:
    ui = AutoConsent()
    with _cut_session(relay, ui) as (link, s):
        seen = Seen()
        s.subscribe(seen)
        view = ScreenView()
        s.subscribe(view.show_link)
        assert s.connection.phase == "connected"
        assert s.run(["echo", "vorher"]).stdout == "vorher\n"
        link.cut()
        assert seen.wait_for(["interrupted"])
        assert s.connection.interrupted and not s.closed
        assert view.link_state == "interrupted"
        assert view.link_text == LINK_TEXTS["interrupted"]
        assert "Verbindung unterbrochen – wird wiederhergestellt" in view.link_text
        done: Future[str] = Future()
        worker = threading.Thread(target=lambda: done.set_result(s.run(["echo", "während"]).stdout))
        worker.start()  # asked while the line is down: it waits, it does not fail
        assert not seen.wait_for(["interrupted", "connected"], timeout=0.5)
        assert not done.done()
        link.restore()
        assert seen.wait_for(["interrupted", "connected"])
        assert done.result(timeout=30) == "während\n"
        worker.join()
        assert s.connection.phase == "connected"
        assert view.link_state == "restored" and "wieder verbunden" in view.link_text
        assert _events(ui, ConnectionRestored) == 1
    assert seen.phases() == ["interrupted", "connected", "ended"]
    assert view.link_state == "ended"


def test_the_panel_says_interrupted_then_reconnected_then_closed_after_the_grace(
    relay: str,
) -> None:
    ui = AutoConsent()
    with (
        CuttableLink(relay) as link,
        AgentThread(ui, relay=link.address, resume_grace=GRACE) as agent,
    ):

        def connector(session_id: str, password: str, **kwargs: object) -> zvkdiag.Session:
            return zvkdiag.connect(session_id, password, resume_grace=2.0, **kwargs)  # type: ignore[arg-type]

        panel = ConnectPanel(relay=link.address, engineer="Erika", connector=connector)
        panel.session_id = agent.session_id
        panel.connect(agent.password)
        s = panel.wait(timeout=30)
        seen = Seen()
        s.subscribe(seen)
        assert panel.state == "connected"

        link.cut()
        assert seen.wait_for(["interrupted"])
        assert panel.state == "interrupted"
        assert "interrupted" in panel.status and "wird wiederhergestellt" in panel.status
        link.restore()
        assert seen.wait_for(["interrupted", "connected"])
        assert panel.state == "connected" and "Reconnected" in panel.status
        assert ui.wait_for(lambda: _events(ui, ConnectionInterrupted) == 1)

        link.cut()  # and it stays cut: after the engineer's 2 s grace the session ends
        assert seen.wait_for(["interrupted", "connected", "interrupted", "ended"])
        assert s.connection.reason
        assert ui.wait_for(lambda: s.closed)
        assert ui.wait_for(lambda: panel.state == "closed")
        assert panel.status.startswith("Closed:")
        assert panel.session is None
        assert _events(ui, SessionEnded) == 0  # the agent's own grace is 30 s
        s.close()


def test_the_screen_view_of_session_screen_shows_the_badge_and_runs_on(
    relay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ui = AutoConsent()
    with xvfb(320, 240) as screen:
        monkeypatch.setenv("DISPLAY", screen.display)  # the in-process agent captures this
        with _cut_session(relay, ui) as (link, s):
            seen = Seen()
            s.subscribe(seen)
            view = s.screen()
            assert ui.wait_for(lambda: view.frames_shown > 0)
            link.cut()
            assert seen.wait_for(["interrupted"])
            assert view.link_state == "interrupted"
            assert ", interrupted" in repr(view)
            shown = view.frames_shown
            link.restore()
            assert seen.wait_for(["interrupted", "connected"])
            assert view.link_state == "restored"
            assert ui.wait_for(lambda: view.frames_shown > shown)  # a fresh keyframe arrives
