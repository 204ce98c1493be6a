"""Run the customer agent with the Tk window: Tk on the main thread, the agent on its own loop.

The window is made and drawn before the agent's stack (asyncssh, cryptography)
is imported, so the customer sees it while that loads; the ID follows.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from zvkdiag._errors import ZvkdiagError
from zvkdiag.agent.control import LateControl
from zvkdiag.consent.audit import AuditLog, default_audit_path
from zvkdiag.consent.messages import text

if TYPE_CHECKING:
    from zvkdiag.agent.limits import SessionLimits
    from zvkdiag.trust.verify import TrustConfig

__all__ = ["run_with_tk"]


def run_with_tk(
    *,
    lang: str,
    relay: str | None,
    listen: str | None,
    consent_timeout: float,
    trust: TrustConfig | None = None,
    limits: SessionLimits | None = None,
    proxy: str | None = None,
    pac: str | None = None,
) -> int:
    from zvkdiag.consent.tk_ui import TkUI

    audit = AuditLog(default_audit_path())
    control = LateControl()
    try:
        ui = TkUI(lang, control, audit_path=audit.path)
    except ZvkdiagError as exc:
        print(exc, flush=True)
        return 2
    ui.root.update()  # draw the window now, not after the imports below
    from zvkdiag.agent.agent import Agent

    agent = Agent(
        ui,
        relay=relay,
        listen=listen,
        consent_timeout=consent_timeout,
        audit_log=audit,
        trust=trust,
        limits=limits,
        proxy=proxy,
        pac=pac,
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
