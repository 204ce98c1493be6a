"""One engineer's session on the customer's side: consent state, running ops, ending."""

from __future__ import annotations

import asyncio
import logging
import platform
import time
from collections.abc import Callable
from typing import Any, Final

import asyncssh

from zvkdiag._errors import ConsentDenied, ProtocolError, ZvkdiagError
from zvkdiag._exchange import EngineerHello
from zvkdiag._version import __version__
from zvkdiag.agent.files import FileGrants, GrantedSFTPServer
from zvkdiag.agent.limits import Due, SessionLimits, SessionTimer
from zvkdiag.agent.ops import OpContext, OpRegistry
from zvkdiag.agent.sshserver import SFTPFactory
from zvkdiag.consent.model import (
    AgentEvent,
    Clipboard,
    ConsentRequest,
    ConsentUI,
    Decision,
    Scope,
    SessionExpiring,
)
from zvkdiag.wire import requests

__all__ = ["END_REASON_PREFIX", "AgentSession"]

log = logging.getLogger("zvkdiag.agent")

END_REASON_PREFIX: Final = "zvkdiag-end:"  # SSH disconnect text: "zvkdiag-end:idle" and so on
LIMIT_CHECK_MAX: Final = 5.0  # seconds; the limits are re-checked at least this often
_QUIET_OPS: Final = frozenset({"ping"})  # requests that do not count as using the session


class AgentSession:
    """Lives from the end of the PAKE until the SSH connection closes."""

    def __init__(
        self,
        hello: EngineerHello,
        *,
        ui: ConsentUI,
        ops: OpRegistry,
        ask_lock: asyncio.Lock,
        consent_timeout: float,
        audit: Callable[..., Any],
        records: Callable[[], list[dict[str, Any]]] = list,
        verified: bool = False,
        limits: SessionLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hello = hello
        self.ui = ui
        self.ops = ops
        self.verified = verified
        self.granted = False
        self.standing: set[str] = set()
        self.streams: set[Any] = set()  # running ScreenStreamers, stopped on revoke or end
        self.controls: set[asyncio.Event] = set()  # running screen.control ops' stop signals
        self.clipboard: Clipboard | None = getattr(ui, "clipboard", None)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.conn: asyncssh.SSHServerConnection | None = None
        self.opened = asyncio.Event()
        self.ended = asyncio.Event()
        self.end_reason = ""
        self._ask_lock = ask_lock
        self._consent_timeout = consent_timeout
        self._audit = audit
        self.files = FileGrants()
        self.records = records
        self._limits, self._clock = limits or SessionLimits(), clock
        self.timer = SessionTimer(self._limits, clock)

    def audit(self, kind: str, **fields: Any) -> None:
        self._audit(kind, **fields)

    def sftp_factory(self) -> SFTPFactory | None:
        """SFTP exists only while the customer has granted at least one file."""
        if not (self.granted and self.files.by_path):
            return None
        return lambda chan: GrantedSFTPServer(chan, self)

    # -- consent ---------------------------------------------------------------
    async def ask(self, request: ConsentRequest) -> Decision:
        if self.ended.is_set():
            return Decision.DENY
        self._audit("request", scope=request.scope.value, detail=dict(request.detail))
        async with self._ask_lock:
            try:
                decision = await asyncio.wait_for(
                    self.ui.ask(request, timeout=self._consent_timeout),
                    self._consent_timeout + 5,
                )
            except TimeoutError:
                decision = Decision.TIMEOUT
        self._audit("decision", scope=request.scope.value, decision=decision.value)
        return decision

    def show(self, event: AgentEvent) -> None:
        self.ui.show(event)

    def revoke(self, scope: Scope) -> None:
        self.standing.discard(scope.value)
        if scope is Scope.SCREEN_VIEW:
            for streamer in list(self.streams):
                streamer.stop()
        if scope in (Scope.SCREEN_VIEW, Scope.SCREEN_CONTROL):
            self.standing.discard(Scope.SCREEN_CONTROL.value)  # no control without sight
            for stop in list(self.controls):
                stop.set()  # the op lets go of every key and button and ends
        self._audit("revoke", scope=scope.value)

    # -- requests --------------------------------------------------------------
    async def handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        ctx: OpContext | None = None
        status = 1
        try:
            op, params = requests.parse_request(process.command)
            ctx = OpContext(
                op,
                params,
                self.hello.name,
                self.verified,
                self.ask,
                self._audit,
                process.stdin,
                process.stdout,
                process.stderr,
                session=self,
            )
            if op not in _QUIET_OPS:
                self.timer.activity()
            status = await self._dispatch(ctx)
        except ZvkdiagError as exc:
            status = await self._report(process, ctx, exc)
        except (asyncssh.Error, ConnectionError, BrokenPipeError):
            status = 1
        except Exception as exc:  # a bug in one op must not end the customer's session
            log.exception("op failed unexpectedly")
            failure = ZvkdiagError(
                f"The customer's program failed on this request ({type(exc).__name__})."
            )
            status = await self._report(process, ctx, failure)
        finally:
            self.tasks.discard(task)
        if not process.is_closing():
            process.exit(status)

    async def _dispatch(self, ctx: OpContext) -> int:
        if ctx.op == "session":
            return await self._open(ctx)
        if not self.granted:
            raise ConsentDenied("The customer has not allowed a session.", scope="session")
        return await self.ops.get(ctx.op)(ctx)

    async def _open(self, ctx: OpContext) -> int:
        if self.granted:
            raise ProtocolError("the session is already open")
        try:
            await ctx.require(ctx.request(Scope.SESSION))
        except ConsentDenied:
            self.end_reason = "denied"
            self.loop_call_close()
            raise
        self.granted = True
        self.opened.set()
        self.timer = SessionTimer(self._limits, self._clock)  # the session counts from "yes"
        self._spawn(self._watch_limits())
        await ctx.accept(
            agent=__version__,
            platform=platform.system().lower(),
            release=platform.release(),
            verified=self.verified,
        )
        return 0

    async def _report(
        self, process: asyncssh.SSHServerProcess[bytes], ctx: OpContext | None, exc: ZvkdiagError
    ) -> int:
        log.info("request failed: %s", exc)
        try:
            if ctx is None or not ctx.accepted:
                process.stdout.write(requests.error_header(exc))
            else:
                process.stderr.write(requests.error_header(exc))
            await process.stdout.drain()
        except (asyncssh.Error, ConnectionError, BrokenPipeError):
            pass
        return 1

    # -- idle question and maximum length ---------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _watch_limits(self) -> None:
        while (wait := self.timer.next_in()) is not None:
            await asyncio.sleep(min(wait, LIMIT_CHECK_MAX))
            for step in self.timer.due():
                self._on_due(step)

    def _on_due(self, step: Due) -> None:
        if step is Due.ASK:
            self._spawn(self._ask_continue())
        elif step is Due.NOTICE:
            self.show(SessionExpiring(round(self.timer.minutes_left())))
            self._audit("session-expiring", minutes_left=round(self.timer.minutes_left()))
        elif step is Due.END_IDLE:
            self.close("idle")
        elif step is Due.END_MAX:
            self.close("max-length")

    async def _ask_continue(self) -> None:
        limits = self.timer.limits
        request = ConsentRequest(
            Scope.CONTINUE,
            self.hello.name,
            self.verified,
            {"idle_minutes": limits.idle_after / 60, "answer_seconds": limits.answer_within},
        )
        self._audit("request", scope=request.scope.value, detail=dict(request.detail))
        try:
            async with asyncio.timeout(limits.answer_within + 5):
                decision = await self.ui.ask(request, timeout=limits.answer_within)
        except TimeoutError:
            decision = Decision.TIMEOUT
        self._audit("decision", scope=request.scope.value, decision=decision.value)
        if decision is Decision.TIMEOUT:
            self.timer.answered(keep=False)
            self.close("idle")
        else:
            self.timer.answered(keep=decision.allowed)
            if not decision.allowed:
                self.close("customer")

    # -- ending ----------------------------------------------------------------
    def loop_call_close(self) -> None:
        """Close after the current reply has gone out (denial) — a short grace."""
        asyncio.get_running_loop().call_later(0.2, self.close, self.end_reason)

    def close(self, reason: str) -> None:
        if self.ended.is_set():
            return
        self.end_reason = reason
        for task in list(self.tasks):
            if task is not asyncio.current_task():
                task.cancel()
        if self.conn is not None:
            # a code other than "by application" makes asyncssh hand the text to the engineer
            self.conn.disconnect(asyncssh.DISC_SERVICE_NOT_AVAILABLE, END_REASON_PREFIX + reason)

    def connection_lost(self, exc: Exception | None) -> None:
        for streamer in list(self.streams):
            streamer.stop()
        if not self.end_reason:
            self.end_reason = "engineer" if exc is None else "network"
        for task in list(self.tasks):
            task.cancel()
        self.files.cleanup()
        self.ended.set()
