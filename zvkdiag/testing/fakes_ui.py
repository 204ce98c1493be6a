"""Honest fakes for the customer side of consent: a control that records, a UI that answers.

``RecordingControl`` stands in for the agent behind a UI: it remembers every
call (thread-safe) and can run a hook, e.g. closing the UI on ``quit`` the way
the real agent does.  ``AutoConsentUI`` stands in for the customer: it answers
from a script and remembers what it was asked and shown.  ``AgentLoopThread``
is the agent's asyncio loop in a background thread, as in production.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from zvkdiag.consent.model import (
    DEFAULT_TIMEOUT,
    AgentEvent,
    ConsentRequest,
    Decision,
    Scope,
)

__all__ = ["AgentLoopThread", "AutoConsentUI", "RecordingControl"]

T = TypeVar("T")


class RecordingControl:
    """An AgentControl that records calls as ``("end_session",)``, ``("revoke", scope)``, ..."""

    def __init__(self, *, on_quit: Callable[[], None] | None = None) -> None:
        self.on_quit = on_quit
        self._calls: list[tuple[object, ...]] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    @property
    def calls(self) -> list[tuple[object, ...]]:
        with self._lock:
            return list(self._calls)

    def names(self) -> list[str]:
        return [str(call[0]) for call in self.calls]

    def _add(self, *call: object) -> None:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def wait_for(self, name: str, timeout: float = 10.0) -> bool:
        """Block until a call named ``name`` was recorded; say whether it was."""
        with self._changed:
            return self._changed.wait_for(
                lambda: any(call[0] == name for call in self._calls), timeout
            )

    def end_session(self) -> None:
        self._add("end_session")

    def revoke(self, scope: Scope) -> None:
        self._add("revoke", scope)

    def quit(self) -> None:
        self._add("quit")
        if self.on_quit is not None:
            self.on_quit()


class AutoConsentUI:
    """A ConsentUI that answers from a script instead of a person.

    Parameters
    ----------
    answers
        A fixed Decision for every question, a callable choosing one per
        request, or an iterable consumed in order (DENY once exhausted).
    """

    def __init__(
        self,
        answers: Decision | Callable[[ConsentRequest], Decision] | Iterable[Decision] = (
            Decision.ALLOW
        ),
    ) -> None:
        self.asked: list[ConsentRequest] = []
        self.shown: list[AgentEvent] = []
        if isinstance(answers, Decision):
            fixed = answers
            self._choose: Callable[[ConsentRequest], Decision] = lambda _r: fixed
        elif callable(answers):
            self._choose = answers
        else:
            script = iter(list(answers))
            self._choose = lambda _r: next(script, Decision.DENY)

    async def ask(
        self,
        request: ConsentRequest,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Decision:
        self.asked.append(request)
        return self._choose(request)

    def show(self, event: AgentEvent) -> None:
        self.shown.append(event)


class AgentLoopThread:
    """An asyncio loop in a daemon thread, like the agent's; use as a context manager."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="fake-agent-loop", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def __enter__(self) -> AgentLoopThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the loop; the returned future completes in the caller's world."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, func: Callable[[], object]) -> None:
        """Call ``func`` on the loop thread (as the agent calls ``ui.show``)."""
        self.loop.call_soon_threadsafe(func)
