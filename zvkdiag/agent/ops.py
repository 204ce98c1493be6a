"""Operations the engineer can request, each one SSH exec channel, and their registry.

A handler gets an ``OpContext``: the request's parameters, who asks, a way to
ask the customer, the audit log, and the channel's byte streams.  It calls
``await ctx.require(...)`` before doing anything, then ``await ctx.accept()``
to send the OK header, then its payload.  An exception before ``accept`` goes
back to the engineer as an error header.

This module holds only the registry types; ``zvkdiag.agent.catalog`` imports
the op modules and fills a registry, so no op module imports its catalog.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from zvkdiag._errors import ConsentDenied, ProtocolError
from zvkdiag.consent.model import ConsentRequest, Decision, Scope
from zvkdiag.wire import requests

__all__ = ["OpContext", "OpHandler", "OpRegistry"]

Asker = Callable[[ConsentRequest], Awaitable[Decision]]
Auditor = Callable[..., Any]


@dataclass
class OpContext:
    op: str
    params: Mapping[str, Any]
    engineer: str
    engineer_verified: bool
    ask: Asker
    audit: Auditor
    stdin: asyncssh.SSHReader[bytes]
    stdout: asyncssh.SSHWriter[bytes]
    stderr: asyncssh.SSHWriter[bytes]
    session: Any = None
    accepted: bool = field(default=False)

    def request(self, scope: Scope | str, **detail: object) -> ConsentRequest:
        return ConsentRequest(
            scope=Scope(scope) if not str(scope).startswith("probe:") else Scope.PROBE,
            engineer=self.engineer,
            engineer_verified=self.engineer_verified,
            detail=detail,
        )

    async def require(self, request: ConsentRequest, *, scope_label: str | None = None) -> None:
        """Ask the customer; raise ConsentDenied unless they allow it."""
        decision = await self.ask(request)
        if not decision.allowed:
            why = "did not answer in time" if decision is Decision.TIMEOUT else "declined"
            label = scope_label or request.scope.value
            raise ConsentDenied(f"The customer {why} ({label}).", scope=label)

    async def accept(self, **extra: Any) -> None:
        self.accepted = True
        self.stdout.write(requests.ok_header(**extra))
        await self.stdout.drain()

    def param(self, name: str, kind: type, default: Any = ...) -> Any:
        value = self.params.get(name, default)
        if value is ... or not isinstance(value, kind):
            raise ProtocolError(f"the request's {name!r} is missing or not a {kind.__name__}")
        return value


OpHandler = Callable[[OpContext], Awaitable[int]]


class OpRegistry:
    """Maps op names to handlers; unknown names are a ProtocolError."""

    def __init__(self) -> None:
        self._ops: dict[str, OpHandler] = {}

    def register(self, name: str, handler: OpHandler) -> None:
        if name in self._ops:
            raise ValueError(f"op {name!r} registered twice")
        self._ops[name] = handler

    def get(self, name: str) -> OpHandler:
        try:
            return self._ops[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._ops), n=3)
            raise ProtocolError(f"the agent knows no operation {name!r} (close: {close})") from None

    def names(self) -> list[str]:
        return sorted(self._ops)
