"""Two UIs at once (the demo's window and terminal): the first answer decides."""

from __future__ import annotations

import asyncio

import pytest

from zvkdiag.consent.both_ui import BothUIs
from zvkdiag.consent.model import AgentEvent, ConsentRequest, Decision, Scope, SessionEnded

REQUEST = ConsentRequest(Scope.SESSION, "Erika Muster")


class Answering:
    """A UI that answers ``decision`` once ``go`` is set, and says whether it was withdrawn."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.go = asyncio.Event()
        self.withdrawn = False
        self.events: list[AgentEvent] = []

    async def ask(self, request: ConsentRequest, *, timeout: float = 60.0) -> Decision:
        try:
            await self.go.wait()
        except asyncio.CancelledError:
            self.withdrawn = True
            raise
        return self.decision

    def show(self, event: AgentEvent) -> None:
        self.events.append(event)


@pytest.mark.parametrize("winner", [0, 1])
def test_the_first_answer_decides_and_the_other_question_is_withdrawn(winner: int) -> None:
    async def run() -> tuple[Decision, list[Answering], list[Decision]]:
        uis = [Answering(Decision.ALLOW), Answering(Decision.DENY)]
        told: list[Decision] = []
        both = BothUIs(uis[0], uis[1], tell_first=told.append, tell_second=told.append)
        asking = asyncio.create_task(both.ask(REQUEST))
        await asyncio.sleep(0)
        uis[winner].go.set()
        return await asyncio.wait_for(asking, 10), uis, told

    decision, uis, told = asyncio.run(run())
    assert decision == uis[winner].decision
    assert uis[1 - winner].withdrawn and not uis[winner].withdrawn
    assert told == [decision]  # the loser hears what was decided


def test_cancelling_the_question_withdraws_it_from_both() -> None:
    async def run() -> list[Answering]:
        uis = [Answering(Decision.ALLOW), Answering(Decision.ALLOW)]
        asking = asyncio.create_task(BothUIs(uis[0], uis[1]).ask(REQUEST))
        await asyncio.sleep(0)
        asking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asking
        return uis

    assert all(ui.withdrawn for ui in asyncio.run(run()))


def test_events_go_to_both() -> None:
    uis = [Answering(Decision.ALLOW), Answering(Decision.ALLOW)]
    BothUIs(uis[0], uis[1]).show(SessionEnded("engineer"))
    assert uis[0].events == uis[1].events == [SessionEnded("engineer")]


def test_the_clipboard_is_the_one_ui_that_has_it() -> None:
    from zvkdiag.consent.both_ui import BothUIs
    from zvkdiag.testing.fakes import AutoConsent, MemoryClipboard

    without = AutoConsent()
    without.clipboard = None  # type: ignore[assignment]  # a console has none
    with_one = AutoConsent()
    both = BothUIs(without, with_one)
    assert isinstance(both.clipboard, MemoryClipboard) and both.clipboard is with_one.clipboard
