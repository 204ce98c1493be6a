"""Compose the customer program: options, per-user files, the agent and its UI.

The Tk window runs on the main thread and the agent on its own loop in a
second thread; the console UI shares the agent's loop.  Before anything is
shown, the program makes sure it is the user's only window (a second start
only brings the first to the front) and that its audit log can be continued.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zvkdiag._errors import ZvkdiagError
from zvkdiag.agent.control import LateControl
from zvkdiag.agent.limits import SessionLimits
from zvkdiag.consent.audit import LOG_NAME
from zvkdiag.consent.messages import default_language, text
from zvkdiag.quicksupport.auditfile import OpenedAudit, open_audit
from zvkdiag.quicksupport.builtin import DEV_RELAY, BuiltIn, load_builtin
from zvkdiag.quicksupport.paths import data_dir
from zvkdiag.quicksupport.single import claim, wake_first

if TYPE_CHECKING:
    # the agent's stack (asyncssh, cryptography) loads after the window is drawn
    from zvkdiag.agent.agent import Agent
    from zvkdiag.trust.verify import TrustConfig

__all__ = ["Plan", "plan", "run"]

AGENT_JOIN = 5.0
"""Seconds the window waits for the agent's thread after it closed."""


@dataclass(frozen=True)
class Plan:
    """The options resolved against what the build put in."""

    lang: str
    ui: str
    relay: str | None
    listen: str | None
    given_trust: TrustConfig | None
    builtin: BuiltIn
    limits: SessionLimits
    consent_timeout: float
    proxy: str | None
    pac: str | None

    @property
    def trust(self) -> TrustConfig | None:
        """``--ca-key`` (read at once), else the built-in key, read only when asked: it
        needs asyncssh, which would delay the window (the build checked that key)."""
        return self.given_trust if self.given_trust is not None else self.builtin.trust()

    def agent_options(self) -> dict[str, Any]:
        return {
            "relay": self.relay,
            "listen": self.listen,
            "consent_timeout": self.consent_timeout,
            "trust": self.trust,
            "limits": self.limits,
            "proxy": self.proxy,
            "pac": self.pac,
        }


def plan(args: argparse.Namespace, builtin: BuiltIn | None = None) -> Plan:
    """Resolve ``args``: ``--relay`` over the built-in relay over the development default.

    Raises
    ------
    ZvkdiagError, ValueError
        A limit is out of range, or the CA key given is unreadable.
    """
    if builtin is None:
        builtin = load_builtin()
    limits = SessionLimits.from_options(
        idle_minutes=args.idle_minutes, max_hours=args.max_session_hours
    )
    trust: TrustConfig | None = None
    if args.ca_key:
        from zvkdiag.trust.verify import TrustConfig

        trust = TrustConfig.load(args.ca_key, args.revoked)
    ui = args.ui
    if ui == "auto":
        screen = sys.platform == "win32" or bool(os.environ.get("DISPLAY"))
        ui = "tk" if screen and _tk_available() else "console"
    return Plan(
        lang=args.lang or default_language(),
        ui=ui,
        relay=None if args.listen else (args.relay or builtin.relay or DEV_RELAY),
        listen=args.listen,
        given_trust=trust,
        builtin=builtin,
        limits=limits,
        consent_timeout=args.consent_timeout,
        proxy=args.proxy,
        pac=args.pac,
    )


def run(args: argparse.Namespace) -> int:
    """Run the customer program until the customer quits; the process exit status."""
    from zvkdiag.screen.win32dpi import set_dpi_awareness

    set_dpi_awareness()  # before any window: Windows fixes it per process
    if sys.platform == "win32":
        # The selector loop, as on Linux: under Wine the resumable stream's carrier
        # broke again and again on the proactor loop (docs/windows.md).
        asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())
    try:
        p = plan(args)
    except (ValueError, ZvkdiagError, OSError) as exc:
        print(f"zvkdiag: {exc}", file=sys.stderr)
        return 2
    try:
        return run_tk(p) if p.ui == "tk" else run_console(p)
    except ZvkdiagError as exc:
        print(exc, flush=True)
        return 2


def _open_audit(lang: str) -> OpenedAudit:
    opened = open_audit(data_dir() / LOG_NAME)
    if opened.set_aside is not None:
        opened.log.record("audit-set-aside", file=opened.set_aside.name, reason=opened.why)
        print(text("audit.set_aside", lang, name=opened.set_aside.name), flush=True)
    return opened


def run_tk(p: Plan) -> int:
    """The window: one per user; a second start brings the first one forward and exits."""
    from zvkdiag.consent.tk_ui import TkUI

    folder = data_dir()
    first = claim(folder)
    if first is None:
        woke = wake_first(folder)
        print(text("instance.running" if woke else "instance.silent", p.lang), flush=True)
        return 0 if woke else 1
    try:
        opened = _open_audit(p.lang)
        control = LateControl()
        ui = TkUI(p.lang, control, audit_path=opened.log.path, on_retry=control.retry)
        first.serve(ui.bring_to_front)
        if opened.set_aside is not None:
            ui.tell(text("audit.set_aside", p.lang, name=opened.set_aside.name))
        ui.root.update()  # draw the window now, not after the agent's imports below
        from zvkdiag.agent.agent import Agent

        agent = Agent(ui, audit_log=opened.log, **p.agent_options())
        control.agent = agent
        _run_window(ui, agent, control)
    finally:
        first.close()
    print(text("quit", p.lang), flush=True)
    return 0


def _run_window(ui: Any, agent: Agent, control: LateControl) -> None:
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
        thread.join(AGENT_JOIN)


def run_console(p: Plan) -> int:
    """Questions on stdout, answers from stdin; Ctrl-C or SIGTERM ends it."""
    from zvkdiag.agent.agent import Agent
    from zvkdiag.consent.console_ui import ConsoleUI

    opened = _open_audit(p.lang)

    async def serve() -> None:
        control = LateControl()
        agent = Agent(ConsoleUI(p.lang, control=control), audit_log=opened.log, **p.agent_options())
        control.agent = agent
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, agent.quit)
        await agent.run()

    asyncio.run(serve())
    print(text("quit", p.lang), flush=True)
    return 0


def _tk_available() -> bool:
    try:
        import tkinter  # noqa: F401
    except ImportError:
        return False
    return True
