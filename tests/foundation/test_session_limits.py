"""Idle question and maximum length for real: relay, agent, SSH, with limits of seconds."""

from __future__ import annotations

import asyncio
import time

import pytest

import zvkdiag
from zvkdiag.agent.limits import SessionLimits
from zvkdiag.consent.model import (
    ConsentRequest,
    Decision,
    Scope,
    SessionEnded,
    SessionExpiring,
)
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread


class AwayFromDesk(AutoConsent):
    """Allows everything, but nobody is there to answer "still needed?"."""

    async def ask(self, request: ConsentRequest, *, timeout: float = 60.0) -> Decision:
        if request.scope is Scope.CONTINUE:
            self._record(self.requests, request)
            await asyncio.sleep(timeout)
            return Decision.TIMEOUT
        return await super().ask(request, timeout=timeout)


def _until_closed(s: zvkdiag.Session, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not s.closed and time.monotonic() < deadline:
        time.sleep(0.05)


def _ended(ui: AutoConsent) -> list[str]:
    return [e.reason for e in ui.events if isinstance(e, SessionEnded)]


def test_unanswered_idle_question_ends_the_session_and_names_it(relay: RelayThread) -> None:
    ui = AwayFromDesk()
    limits = SessionLimits(idle_after=1.2, max_length=0, answer_within=0.5)  # --idle-minutes 0.02
    with AgentThread(ui, relay=relay.address, limits=limits) as agent:
        first = agent.password
        s = zvkdiag.connect(agent.session_id, first, relay=relay.address, engineer="E")
        assert s.run(["true"]).ok
        _until_closed(s)
        with pytest.raises(zvkdiag.SessionClosed, match="idle"):
            s.run(["true"])
        s.close()
        assert agent.ui.wait_for(lambda: _ended(ui) == ["idle"])
        assert [q.scope for q in ui.requests].count(Scope.CONTINUE) == 1
        question = next(q for q in ui.requests if q.scope is Scope.CONTINUE)
        assert question.detail == {"idle_minutes": 0.02, "answer_seconds": 0.5}
        assert agent.fresh_password(first) != first  # rotated, as after every session
        assert zvkdiag.sessions() == []


def test_continue_keeps_the_session(relay: RelayThread) -> None:
    ui = AutoConsent()  # answers "Fortsetzen" at once
    limits = SessionLimits(idle_after=0.6, max_length=0, answer_within=5)
    with (
        AgentThread(ui, relay=relay.address, limits=limits) as agent,
        zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E") as s,
    ):
        assert ui.wait_for(lambda: [q.scope for q in ui.requests].count(Scope.CONTINUE) >= 2)
        assert not s.closed and s.run(["true"]).ok


def test_declining_to_continue_ends_the_session_as_the_customers_choice(
    relay: RelayThread,
) -> None:
    ui = AutoConsent(deny={"session.continue"})
    limits = SessionLimits(idle_after=0.6, max_length=0, answer_within=5)
    with AgentThread(ui, relay=relay.address, limits=limits) as agent:
        s = zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E")
        _until_closed(s)
        with pytest.raises(zvkdiag.SessionClosed, match="The customer ended the session"):
            s.run(["true"])
        s.close()
        assert ui.wait_for(lambda: _ended(ui) == ["customer"])


def test_maximum_length_gives_notice_then_ends_a_busy_session(relay: RelayThread) -> None:
    ui = AutoConsent()
    limits = SessionLimits(idle_after=0, max_length=2.0, notice_before=1.5)
    with AgentThread(ui, relay=relay.address, limits=limits) as agent:
        s = zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E")
        deadline = time.monotonic() + 20
        while not s.closed and time.monotonic() < deadline:
            try:
                s.run(["true"])  # busy all the time: the maximum still applies
            except zvkdiag.SessionClosed:
                break
        _until_closed(s)
        with pytest.raises(zvkdiag.SessionClosed, match="maximum session length"):
            s.run(["true"])
        s.close()
        assert ui.wait_for(lambda: _ended(ui) == ["max-length"])
        notices = [e for e in ui.events if isinstance(e, SessionExpiring)]
        assert len(notices) == 1
        kinds = [type(e).__name__ for e in ui.events]
        assert kinds.index("SessionExpiring") < kinds.index("SessionEnded")
