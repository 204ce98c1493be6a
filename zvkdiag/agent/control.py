"""A control handle for UIs that exist before the agent they steer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from zvkdiag.consent.model import Scope

if TYPE_CHECKING:
    from zvkdiag.agent.agent import Agent

__all__ = ["LateControl"]


class LateControl:
    """The UI needs a control before the agent exists; this forwards once it does.

    Once the agent's loop has ended there is nobody left to tell: a late click
    or a second quit is then a no-op instead of an error.
    """

    def __init__(self) -> None:
        self.agent: Agent | None = None

    def end_session(self) -> None:
        self._forward(lambda agent: agent.end_session())

    def revoke(self, scope: Scope) -> None:
        self._forward(lambda agent: agent.revoke(scope))

    def quit(self) -> None:
        self._forward(lambda agent: agent.quit())

    def retry(self) -> None:
        """Try the relay again now (the window's "Erneut versuchen")."""
        self._forward(lambda agent: agent.retry_now())

    def _forward(self, call: Callable[[Agent], None]) -> None:
        if self.agent is None:
            return
        with contextlib.suppress(RuntimeError):  # "Event loop is closed": the agent is done
            call(self.agent)
