"""The console UI: prompts on stdout, ``y``/``n`` answers read from stdin.

For terminals, the demo and tests.  Texts come from the catalog through the
same ``describe`` the Tk dialog uses.  stdin is read by one daemon thread so a
blocked ``readline`` never stalls the agent's event loop.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import TextIO

from zvkdiag.consent.describe import describe
from zvkdiag.consent.messages import text
from zvkdiag.consent.model import (
    DEFAULT_TIMEOUT,
    AgentEvent,
    CodeIssued,
    ConsentRequest,
    Decision,
    EngineerMessage,
    FailedTry,
    SessionEnded,
    SessionStarted,
)

__all__ = ["ConsoleUI", "parse_answer"]

_YES = frozenset({"y", "yes", "j", "ja"})


def parse_answer(line: str) -> Decision:
    """Only an explicit yes allows; anything else denies."""
    return Decision.ALLOW if line.strip().lower() in _YES else Decision.DENY


class ConsoleUI:
    def __init__(
        self, lang: str = "de", *, out: TextIO | None = None, inp: TextIO | None = None
    ) -> None:
        self.lang = lang
        self.out = out or sys.stdout
        self.inp = inp or sys.stdin
        self._lines: asyncio.Queue[str | None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engineer = ""

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def _start_reader(self) -> asyncio.Queue[str | None]:
        if self._lines is None:
            self._loop = asyncio.get_running_loop()
            self._lines = asyncio.Queue()
            threading.Thread(target=self._read_stdin, name="zvkdiag-stdin", daemon=True).start()
        return self._lines

    def _read_stdin(self) -> None:
        assert self._loop is not None and self._lines is not None
        for line in self.inp:
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
        self._loop.call_soon_threadsafe(self._lines.put_nowait, None)

    async def ask(self, request: ConsentRequest, *, timeout: float = DEFAULT_TIMEOUT) -> Decision:
        lines = self._start_reader()
        while not lines.empty():  # answers typed before the question do not count
            lines.get_nowait()
        headline, body = describe(request, self.lang)
        self._say(f"[?] {headline}")
        for line in body:
            self._say(f"    {line}")
        self._say(text("ask.console.prompt", self.lang).rstrip())
        try:
            async with asyncio.timeout(timeout):
                answer = await lines.get()
        except TimeoutError:
            self._say("")
            self._say(text("ask.timeout", self.lang, seconds=int(timeout)))
            return Decision.TIMEOUT
        decision = Decision.DENY if answer is None else parse_answer(answer)
        self._say(text(f"decision.{decision.value}", self.lang))
        return decision

    def show(self, event: AgentEvent) -> None:
        match event:
            case CodeIssued(reason="failed-tries"):
                self._say(text("failed_try.rotated", self.lang))
            case CodeIssued():
                pass  # the agent prints the machine-readable ID/Password lines itself
            case FailedTry(tries_left=n):
                self._say(text("failed_try", self.lang, tries_left=n))
            case SessionStarted(engineer=name):
                self._engineer = name
                self._say(text("indicator.active", self.lang, engineer=name))
            case SessionEnded(reason=reason):
                self._say(text(f"ended.{reason}", self.lang))
            case EngineerMessage(text=msg):
                self._say(text("message.from", self.lang, engineer=self._engineer, text=msg))
