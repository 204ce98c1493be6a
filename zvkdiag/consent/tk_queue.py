"""One consent question at a time: the queue behind the Tk dialog (pure, no Tk).

Questions arrive from the agent's thread; the Tk thread shows the oldest, and
the next one only after the customer (or the timeout) has answered it.  The
queue knows nothing about widgets: it calls ``present`` and ``dismiss``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from zvkdiag.consent.model import ConsentRequest, Decision

__all__ = ["ConsentQueue", "Ticket"]


@dataclass(eq=False)
class Ticket:
    """One question and the way its answer gets back to the asker.

    ``deliver`` is called at most once, from whichever thread resolves the
    ticket first (the customer's click, the timeout, or the UI closing).
    """

    request: ConsentRequest
    headline: str
    lines: list[str]
    timeout: float
    deliver: Callable[[Decision], None]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _done: bool = field(default=False, repr=False)

    @property
    def done(self) -> bool:
        return self._done

    def resolve(self, decision: Decision) -> bool:
        """Deliver ``decision`` unless an answer was delivered already; say whether it was."""
        with self._lock:
            if self._done:
                return False
            self._done = True
        self.deliver(decision)
        return True


class ConsentQueue:
    """FIFO of tickets with at most one on screen.  Use from the UI thread only."""

    def __init__(
        self, present: Callable[[Ticket], None], dismiss: Callable[[Ticket], None]
    ) -> None:
        self._present = present
        self._dismiss = dismiss
        self._waiting: deque[Ticket] = deque()
        self.current: Ticket | None = None

    def __len__(self) -> int:
        return len(self._waiting) + (self.current is not None)

    def submit(self, ticket: Ticket) -> None:
        """Queue a question; show it at once if nothing else is on screen."""
        if ticket.done:
            return
        self._waiting.append(ticket)
        self._advance()

    def settle(self, ticket: Ticket, decision: Decision) -> None:
        """Answer ``ticket`` (shown or waiting) and move on to the next question."""
        self.withdraw(ticket)
        ticket.resolve(decision)

    def withdraw(self, ticket: Ticket) -> None:
        """Take ``ticket`` away without answering (the asker gave up)."""
        if ticket is self.current:
            self.current = None
            self._dismiss(ticket)
            self._advance()
        elif ticket in self._waiting:
            self._waiting.remove(ticket)

    def clear(self, decision: Decision) -> None:
        """Answer every question with ``decision`` (the session ended or the UI closes)."""
        waiting, self._waiting = list(self._waiting), deque()
        if self.current is not None:
            waiting.insert(0, self.current)
            self.current = None
            self._dismiss(waiting[0])
        for ticket in waiting:
            ticket.resolve(decision)

    def _advance(self) -> None:
        while self.current is None and self._waiting:
            ticket = self._waiting.popleft()
            if not ticket.done:  # answered elsewhere (UI closing) while it waited
                self.current = ticket
                self._present(ticket)
