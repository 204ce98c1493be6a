"""The screen view's round trip: an echo on the session, timed on the engineer's clock only."""

from __future__ import annotations

import asyncio

import zvkdiag
from zvkdiag.consent.model import Scope
from zvkdiag.engineer.session import RequestEvent
from zvkdiag.engineer.viewing import measure_rtt
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread

from .test_widget import RecordingView


def test_round_trip_is_an_echo_without_a_consent_question(
    agent: AgentThread, relay: RelayThread, consent: AutoConsent
) -> None:
    seen: list[RequestEvent] = []
    got: list[float] = []
    with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E") as s:
        s.listeners.append(seen.append)

        async def two_measurements() -> None:
            done = asyncio.Event()

            def report(seconds: float) -> None:
                got.append(seconds)
                if len(got) == 2:
                    done.set()

            task = asyncio.ensure_future(measure_rtt(s, report))
            await asyncio.wait_for(done.wait(), 30)
            task.cancel()

        s.call(two_measurements())
        assert s.run(["true"]).ok  # the session is untouched by the echo
    assert len(got) == 2 and all(0 < g < 30 for g in got)
    assert [q.scope for q in consent.requests] == [Scope.SESSION, Scope.COMMAND]
    assert [e.op for e in seen] == ["run", "run"]  # the echo is not listed as a request


def test_the_view_passes_the_round_trip_to_the_browser() -> None:
    view = RecordingView()
    view.show_rtt(0.0031)
    assert view.sent[-1] == ({"type": "rtt", "ms": 3.1}, [])
    assert view.rtt == 0.0031
