"""Two consent UIs at once: every event shown in both, every question asked in both.

The demo uses it when it starts its own virtual screen: the customer's Tk
window is on that screen (so the engineer's screen view shows what a customer
sees), while the person running the demo, who cannot see that screen
directly, answers in the terminal.  Whichever UI answers first decides; the
other one's question is withdrawn (cancelling its ``ask``: the Tk dialog
closes, the console stops waiting) and it is told the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from zvkdiag.consent.model import (
    DEFAULT_TIMEOUT,
    AgentEvent,
    Clipboard,
    ConsentRequest,
    ConsentUI,
    Decision,
)

__all__ = ["BothUIs"]

Notice = Callable[[Decision], None]


class BothUIs:
    """``first`` and ``second`` together behind the one ``ConsentUI`` the agent talks to.

    Parameters
    ----------
    first, second
        The two UIs; ``first`` wins a tie.
    tell_first, tell_second
        Told the decision when the *other* UI answered and this one's question
        was withdrawn (for example to print "Erlaubt." in a terminal whose
        prompt was answered in the window).
    """

    def __init__(
        self,
        first: ConsentUI,
        second: ConsentUI,
        *,
        tell_first: Notice | None = None,
        tell_second: Notice | None = None,
    ) -> None:
        self.uis = (first, second)
        self._tell = (tell_first, tell_second)
        clipboards = [getattr(ui, "clipboard", None) for ui in self.uis]
        self.clipboard: Clipboard | None = next((c for c in clipboards if c is not None), None)

    async def ask(self, request: ConsentRequest, *, timeout: float = DEFAULT_TIMEOUT) -> Decision:
        tasks = [asyncio.ensure_future(ui.ask(request, timeout=timeout)) for ui in self.uis]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:  # the loser has withdrawn its question before we return
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        winner = next(i for i, t in enumerate(tasks) if t.done() and not t.cancelled())
        decision = tasks[winner].result()
        tell = self._tell[1 - winner]
        if tell is not None:
            tell(decision)
        return decision

    def show(self, event: AgentEvent) -> None:
        for ui in self.uis:
            ui.show(event)
