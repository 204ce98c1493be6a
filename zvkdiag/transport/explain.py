"""From a ``ConnectError`` to what the customer's window says (pure)."""

from __future__ import annotations

from zvkdiag._errors import ConnectError, PacError, ProxyError, UntrustedCertificate
from zvkdiag.consent.model import NetworkProblem

__all__ = ["network_problem"]


def network_problem(exc: ConnectError, relay: str) -> NetworkProblem:
    if isinstance(exc, ProxyError):
        kind = "proxy-auth" if exc.reason == "auth" else "proxy-refused"
        if exc.reason in ("unreachable", "bad-answer"):
            kind = "proxy-unreachable"
        detail = f"HTTP {exc.status}" if exc.status else exc.reason
        return NetworkProblem(kind, exc.address, exc.proxy, detail)
    if isinstance(exc, PacError):
        kinds = {"download": "pac-download", "timeout": "pac-timeout"}
        detail = str(exc).rsplit(": ", 1)[-1].rstrip(".") if exc.reason == "download" else ""
        return NetworkProblem(kinds.get(exc.reason, "pac-script"), exc.address, exc.pac, detail)
    if isinstance(exc, UntrustedCertificate):
        return NetworkProblem("untrusted", exc.address, "", exc.detail)
    return NetworkProblem("unreachable", relay)
