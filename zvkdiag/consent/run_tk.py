"""Run the customer agent with the Tk window: Tk on the main thread, the agent on its own loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

from zvkdiag._errors import ZvkdiagError
from zvkdiag.agent.agent import Agent
from zvkdiag.consent.audit import AuditLog, default_audit_path
from zvkdiag.consent.messages import text
from zvkdiag.consent.model import Scope
from zvkdiag.trust.verify import TrustConfig

__all__ = ["run_with_tk"]


class _Forward:
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

    def _forward(self, call: Callable[[Agent], None]) -> None:
        if self.agent is None:
            return
        with contextlib.suppress(RuntimeError):  # "Event loop is closed": the agent is done
            call(self.agent)


def run_with_tk(
    *,
    lang: str,
    relay: str | None,
    listen: str | None,
    consent_timeout: float,
    trust: TrustConfig | None = None,
) -> int:
    from zvkdiag.consent.tk_ui import TkUI

    audit = AuditLog(default_audit_path())
    control = _Forward()
    try:
        ui = TkUI(lang, control, audit_path=audit.path)
    except ZvkdiagError as exc:
        print(exc, flush=True)
        return 2
    agent = Agent(
        ui,
        relay=relay,
        listen=listen,
        consent_timeout=consent_timeout,
        audit_log=audit,
        trust=trust,
    )
    control.agent = agent

    def serve() -> None:
        try:
            asyncio.run(agent.run())
        finally:
            ui.close()

    thread = threading.Thread(target=serve, name="zvkdiag-agent", daemon=True)
    thread.start()
    try:
        ui.run()
    finally:
        control.quit()
        thread.join(5)
    print(text("quit", lang), flush=True)
    return 0
