"""From a ``ConnectError`` to what the customer's window says (pure)."""

from __future__ import annotations

from zvkdiag._errors import ConnectError, ProxyError, UntrustedCertificate
from zvkdiag.consent.model import NetworkProblem

__all__ = ["network_problem"]


def network_problem(exc: ConnectError, relay: str) -> NetworkProblem:
    if isinstance(exc, ProxyError):
        kind = "proxy-auth" if exc.reason == "auth" else "proxy-refused"
        if exc.reason in ("unreachable", "bad-answer"):
            kind = "proxy-unreachable"
        detail = f"HTTP {exc.status}" if exc.status else exc.reason
        return NetworkProblem(kind, exc.address, exc.proxy, detail)
    if isinstance(exc, UntrustedCertificate):
        return NetworkProblem("untrusted", exc.address, "", exc.detail)
    return NetworkProblem("unreachable", relay)
