"""The console UI announces screen sharing; ``stop`` between questions withdraws it."""

from __future__ import annotations

import asyncio
import io
import os
import threading
from collections.abc import Iterator
from typing import TextIO

import pytest

from zvkdiag.consent.console_ui import ConsoleUI
from zvkdiag.consent.messages import text
from zvkdiag.consent.model import ConsentRequest, Decision, Scope, ScreenShared
from zvkdiag.testing.fakes_ui import RecordingControl

WAIT = 10.0


@pytest.fixture
def keyboard() -> Iterator[tuple[TextIO, TextIO]]:
    """A pipe standing in for the terminal: (what the UI reads, what the test types into)."""
    read_fd, write_fd = os.pipe()
    with open(read_fd, encoding="utf-8") as inp, open(write_fd, "w", encoding="utf-8") as typed:
        yield inp, typed


def type_line(typed: TextIO, line: str) -> None:
    typed.write(line + "\n")
    typed.flush()


def reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "zvkdiag-stdin"]


def test_sharing_lines_without_control() -> None:
    out = io.StringIO()
    ui = ConsoleUI("en", out=out)
    ui.show(ScreenShared(True))
    ui.show(ScreenShared(False))
    assert out.getvalue().splitlines() == [
        text("event.screen_shared", "en"),
        text("event.screen_stopped", "en"),
    ]


def test_stop_between_questions_revokes_but_is_an_answer_during_one(
    keyboard: tuple[TextIO, TextIO],
) -> None:
    inp, typed = keyboard
    out = io.StringIO()
    control = RecordingControl()
    ui = ConsoleUI("de", out=out, inp=inp, control=control)

    async def scenario() -> Decision:
        ui.show(ScreenShared(True))  # on the loop, as the agent calls it
        assert text("console.stop_screen", "de") in out.getvalue()
        type_line(typed, "stop")
        assert await asyncio.to_thread(control.wait_for, "revoke", WAIT)
        request = ConsentRequest(Scope.COMMAND, "E", detail={"argv": ["x"]})
        asking = asyncio.create_task(ui.ask(request))
        await asyncio.sleep(0)  # the question is now pending
        type_line(typed, "stop")  # an answer now: anything but yes denies
        decision = await asking
        typed.close()  # end of input: the reader thread ends while the loop still runs
        for thread in reader_threads():
            await asyncio.to_thread(thread.join, WAIT)
        return decision

    assert asyncio.run(scenario()) is Decision.DENY
    assert control.calls == [("revoke", Scope.SCREEN_VIEW)]


def test_stop_ends_control_first_then_the_view(keyboard: tuple[TextIO, TextIO]) -> None:
    from zvkdiag.consent.model import ControlActive

    inp, typed = keyboard
    out = io.StringIO()
    control = RecordingControl()
    ui = ConsoleUI("de", out=out, inp=inp, control=control)

    async def scenario() -> None:
        ui.show(ScreenShared(True))
        ui.show(ControlActive(True))
        assert text("event.control_started", "de") in out.getvalue()
        assert text("console.stop_control", "de") in out.getvalue()
        type_line(typed, "stop")
        assert await asyncio.to_thread(control.wait_for, "revoke", WAIT)
        ui.show(ControlActive(False))  # the agent reports control has ended
        type_line(typed, "stop")
        typed.close()  # the reader sees "stop" before the end of input
        for thread in reader_threads():
            await asyncio.to_thread(thread.join, WAIT)
        await asyncio.sleep(0)  # the lines the reader handed over are taken now

    asyncio.run(scenario())
    assert control.calls == [("revoke", Scope.SCREEN_CONTROL), ("revoke", Scope.SCREEN_VIEW)]
    assert text("event.control_stopped", "de") in out.getvalue()
