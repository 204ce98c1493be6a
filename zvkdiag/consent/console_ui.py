"""The console UI: prompts on stdout, ``y``/``n`` answers read from stdin.

For terminals, the demo and tests.  Texts come from the catalog through the
same ``describe`` the Tk dialog uses.  stdin is read by one daemon thread so a
blocked ``readline`` never stalls the agent's event loop.

Screen sharing is announced when it starts and ends.  Withdrawing it from the
console is optional: only with a ``control``, a line ``stop`` typed while no
question is pending revokes ``screen.view`` (the Tk window's button is the
main way; a console customer can always end the whole session with Ctrl-C).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from typing import TextIO

from zvkdiag.consent.describe import describe
from zvkdiag.consent.messages import network_text, text
from zvkdiag.consent.model import (
    DEFAULT_TIMEOUT,
    AgentControl,
    AgentEvent,
    CodeIssued,
    ConnectionInterrupted,
    ConnectionRestored,
    ConsentRequest,
    ControlActive,
    Decision,
    EngineerMessage,
    FailedTry,
    NetworkProblem,
    PointerShown,
    RouteChosen,
    Scope,
    ScreenShared,
    SessionEnded,
    SessionExpiring,
    SessionStarted,
)

__all__ = ["ConsoleUI", "parse_answer"]

_YES = frozenset({"y", "yes", "j", "ja"})
_STOP = "stop"
"""Typed while no question is pending: end remote control, or else the screen view."""


def parse_answer(line: str) -> Decision:
    """Only an explicit yes allows; anything else denies."""
    return Decision.ALLOW if line.strip().lower() in _YES else Decision.DENY


class ConsoleUI:
    """Questions and events on a terminal.

    Parameters
    ----------
    control
        If given, ``stop`` typed between questions calls
        ``control.revoke(Scope.SCREEN_VIEW)``.
    """

    def __init__(
        self,
        lang: str = "de",
        *,
        out: TextIO | None = None,
        inp: TextIO | None = None,
        control: AgentControl | None = None,
    ) -> None:
        self.lang = lang
        self.out = out or sys.stdout
        self.inp = inp or sys.stdin
        self.control = control
        self._asking = False
        self._controlled = False
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
            self._loop.call_soon_threadsafe(self._take, line)
        self._loop.call_soon_threadsafe(self._lines.put_nowait, None)

    def _take(self, line: str) -> None:
        assert self._lines is not None
        if self.control is not None and not self._asking and line.strip().lower() == _STOP:
            # control first: "stop" while the engineer steers ends the steering
            self.control.revoke(Scope.SCREEN_CONTROL if self._controlled else Scope.SCREEN_VIEW)
        else:
            self._lines.put_nowait(line)

    async def ask(self, request: ConsentRequest, *, timeout: float = DEFAULT_TIMEOUT) -> Decision:
        lines = self._start_reader()
        while not lines.empty():  # answers typed before the question do not count
            lines.get_nowait()
        headline, body = describe(request, self.lang)
        self._say(f"[?] {headline}")
        for line in body:
            self._say(f"    {line}")
        self._say(text("ask.console.prompt", self.lang).rstrip())
        self._asking = True
        try:
            async with asyncio.timeout(timeout):
                answer = await lines.get()
        except TimeoutError:
            self._say("")
            self._say(text("ask.timeout", self.lang, seconds=int(timeout)))
            return Decision.TIMEOUT
        finally:
            self._asking = False
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
            case ScreenShared(active=True):
                self._say(text("event.screen_shared", self.lang))
                if self.control is not None:
                    self._say(text("console.stop_screen", self.lang))
                    with contextlib.suppress(RuntimeError):  # no running loop: nothing to read for
                        self._start_reader()
            case ScreenShared(active=False):
                self._say(text("event.screen_stopped", self.lang))
            case ControlActive(active=active, paused=False) if active != self._controlled:
                self._controlled = active
                self._say(text(f"event.control_{'started' if active else 'stopped'}", self.lang))
                if active and self.control is not None:
                    self._say(text("console.stop_control", self.lang))
                    with contextlib.suppress(RuntimeError):
                        self._start_reader()
            case PointerShown(position=position) if position is not None:
                self._say(text("event.pointer", self.lang))
            case SessionExpiring(minutes_left=minutes):
                self._say(text("notice.max_length", self.lang, minutes=minutes))
            case RouteChosen() | NetworkProblem():
                self._say(network_text(event, self.lang))
            case ConnectionInterrupted():
                self._say(text("net.interrupted", self.lang))
            case ConnectionRestored():
                self._say(text("net.restored", self.lang))
