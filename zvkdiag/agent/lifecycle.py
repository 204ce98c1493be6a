"""When the customer's password changes: a small pure state machine.

New at every start; replaced when a session ends, after ``MAX_FAILURES``
failed tries, and after ``IDLE_LIFETIME`` seconds unused.  The clock is
injected so the tests need no sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from zvkdiag.wire import codes

__all__ = ["IDLE_LIFETIME", "MAX_FAILURES", "Credentials"]

MAX_FAILURES: Final = 3
IDLE_LIFETIME: Final = 600.0


@dataclass
class Credentials:
    session_id: str
    clock: Callable[[], float] = time.monotonic
    new_password: Callable[[], str] = codes.new_password
    max_failures: int = MAX_FAILURES
    idle_lifetime: float = IDLE_LIFETIME
    password: str = field(init=False)
    failures: int = field(init=False, default=0)
    issued_at: float = field(init=False)
    in_session: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.password = self.new_password()
        self.issued_at = self.clock()

    @property
    def tries_left(self) -> int:
        return self.max_failures - self.failures

    def rotate(self) -> str:
        old = self.password
        while self.password == old:
            self.password = self.new_password()
        self.failures = 0
        self.issued_at = self.clock()
        return self.password

    def failed(self) -> tuple[int, bool]:
        """Count a failed try; return (tries left on the password now valid, rotated?)."""
        self.failures += 1
        if self.failures >= self.max_failures:
            self.rotate()
            return self.tries_left, True
        return self.tries_left, False

    def session_started(self) -> None:
        self.in_session = True

    def session_ended(self) -> str:
        self.in_session = False
        return self.rotate()

    def expired(self) -> bool:
        return not self.in_session and self.clock() - self.issued_at >= self.idle_lifetime

    def rebind(self, session_id: str) -> str:
        """A new ID (the relay forgot ours): a new password goes with it."""
        self.session_id = session_id
        return self.rotate()
