"""Honest fakes for tests, benchmarks and the demo: they say what they are.

``AutoConsent`` is a real ``ConsentUI`` that answers from a rule instead of a
person; ``RelayThread``/``AgentThread`` run the real relay and agent on a
background loop (port 0, loopback) so a test can talk to them synchronously.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zvkdiag.agent.agent import Agent
from zvkdiag.agent.ops import OpRegistry
from zvkdiag.consent.model import AgentEvent, ConsentRequest, Decision, Scope
from zvkdiag.engineer.loopthread import LoopThread
from zvkdiag.relay.server import Relay, RelayConfig, start_relay
from zvkdiag.wire import codes

if TYPE_CHECKING:
    from zvkdiag.engineer.session import Session

__all__ = ["AgentThread", "AutoConsent", "MemoryClipboard", "RelayThread"]

Rule = Callable[[ConsentRequest], "Decision | bool"]


class MemoryClipboard:
    """A clipboard that lives in memory: the customer's clipboard for tests without a display.

    The real one is the Tk window's (``zvkdiag.consent.tk_ui.TkClipboard``).
    """

    def __init__(self, text: str = "") -> None:
        self.text = text

    async def get_text(self) -> str:
        return self.text

    async def set_text(self, value: str) -> None:
        self.text = value


class AutoConsent:
    """A consent UI that answers by rule, records every question and event.

    ``answer`` is True/False for everything, or a function of the request;
    ``deny`` is a set of scopes (``"command"``, ``"probe:processes"``) to refuse.
    """

    def __init__(
        self, answer: bool | Rule = True, *, deny: set[str] | None = None, delay: float = 0.0
    ) -> None:
        self._answer = answer
        self.deny = deny or set()
        self.delay = delay
        self.requests: list[ConsentRequest] = []
        self.events: list[AgentEvent] = []
        self.changed = threading.Condition()
        self.clipboard = MemoryClipboard()

    def _decide(self, request: ConsentRequest) -> Decision:
        scope = request.scope.value
        if scope in self.deny:
            return Decision.DENY
        if request.scope is Scope.PROBE:
            names = {
                f"probe:{p['name']}"
                for p in request.detail.get("probes", [])  # type: ignore[attr-defined]
                if isinstance(p, dict)
            }
            if names & self.deny:
                return Decision.DENY
        result = self._answer(request) if callable(self._answer) else self._answer
        if isinstance(result, Decision):
            return result
        return Decision.ALLOW if result else Decision.DENY

    async def ask(self, request: ConsentRequest, *, timeout: float = 60.0) -> Decision:
        self._record(self.requests, request)
        if self.delay:
            await asyncio.sleep(min(self.delay, timeout))
            if self.delay >= timeout:
                return Decision.TIMEOUT
        return self._decide(request)

    def show(self, event: AgentEvent) -> None:
        self._record(self.events, event)

    def _record(self, target: list[Any], item: Any) -> None:
        with self.changed:
            target.append(item)
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate()`` holds after some question or event (tests)."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)


class RelayThread:
    """The real relay on 127.0.0.1 port 0, served by a background loop."""

    def __init__(
        self,
        config: RelayConfig | None = None,
        host: str = "127.0.0.1",
        *,
        wss: ssl.SSLContext | None = None,
    ) -> None:
        self._lt = LoopThread("zvkdiag-relay")
        self.relay, self._server = self._lt.call(start_relay(host, 0, config=config))
        sockname = self._server.sockets[0].getsockname()
        self.address = f"{sockname[0]}:{sockname[1]}"
        self._wss_server: asyncio.Server | None = None
        if wss is not None:  # the same relay, also as wss (``wss_address``)
            from zvkdiag.relay.wss import start_wss_relay

            self._wss_server = self._lt.call(start_wss_relay(self.relay, host, 0, wss))
            self.wss_port = self._wss_server.sockets[0].getsockname()[1]
            self.wss_address = f"wss://{host}:{self.wss_port}"

    @property
    def state(self) -> Relay:
        return self.relay

    def close(self) -> None:
        async def _close() -> None:
            self._server.close()
            if self._wss_server is not None:
                self._wss_server.close()
            for conn in list(self.relay.conns):  # pairs too: the loop stops right after
                conn.close()
            await asyncio.sleep(0)  # let the transports finish closing their sockets

        self._lt.call(_close())
        self._lt.stop()

    def __enter__(self) -> RelayThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AgentThread:
    """The real agent (relay or direct mode) with a fake consent UI, on a background loop."""

    def __init__(
        self,
        ui: Any | None = None,
        *,
        relay: str | None = None,
        listen: str | None = None,
        ops: OpRegistry | None = None,
        **kwargs: Any,
    ) -> None:
        self.ui = ui if ui is not None else AutoConsent()
        self._audit_dir: Any = None
        self.out = _LockedText()
        self._lt = LoopThread("zvkdiag-agent")

        async def _make() -> Agent:
            return Agent(self.ui, relay=relay, listen=listen, ops=ops, out=self.out, **kwargs)

        if "audit_log" not in kwargs:
            import tempfile
            from pathlib import Path

            from zvkdiag.consent.audit import AuditLog

            self._audit_dir = tempfile.TemporaryDirectory(prefix="zvkdiag-audit-")
            kwargs["audit_log"] = AuditLog(Path(self._audit_dir.name) / "audit.jsonl", fsync=False)
        self.agent = self._lt.call(_make())
        self._task = self._lt.submit(self.agent.run())
        self._lt.call(asyncio.wait_for(self.agent.wait_ready(), 15))

    @property
    def session_id(self) -> str:
        return self.agent.creds.session_id

    def audit_path(self) -> Path:
        """The customer's audit log of this agent (the one made here when none was given)."""
        if self._audit_dir is None:
            raise ValueError("this AgentThread was given its own audit log")
        return Path(self._audit_dir.name) / "audit.jsonl"

    @property
    def password(self) -> str:
        return codes.format_password(self.agent.creds.password)

    def fresh_password(self, old: str, timeout: float = 10.0) -> str:
        """Wait until the agent replaced ``old`` (after a session ended) and return the new one."""
        import time

        deadline = time.monotonic() + timeout
        while self.password == old and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.password

    def connect_once_offered(self, relay: Any, timeout: float) -> Session:
        """An engineer's session (engineer "E") as soon as this agent's (re-)offer
        reached ``relay`` (an address or a shard map); the last error after ``timeout``."""
        import time

        import zvkdiag

        deadline = time.monotonic() + timeout
        while True:
            try:
                return zvkdiag.connect(self.session_id, self.password, relay=relay, engineer="E")
            except (zvkdiag.PeerNotFound, zvkdiag.ConnectError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    @property
    def address(self) -> str:
        assert self.agent.address is not None
        return f"{self.agent.address[0]}:{self.agent.address[1]}"

    def close(self) -> None:
        self.agent.quit()
        with contextlib.suppress(Exception):  # shutting down; the test has its verdict
            self._task.result(10)
        self._lt.stop()
        if self._audit_dir is not None:
            self._audit_dir.cleanup()

    def __enter__(self) -> AgentThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _LockedText(io.StringIO):
    """stdout of the agent, readable from the test thread."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, s: str) -> int:
        with self._lock:
            return super().write(s)

    def lines(self) -> list[str]:
        with self._lock:
            return self.getvalue().splitlines()
