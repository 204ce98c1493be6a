"""From a ``ConnectError`` to what the customer's window says (pure).

Each message names the hop that failed: the proxy (login refused, way
forbidden, not answering), the PAC file, the TLS in between (an inspection
through the proxy whose CA this PC lacks), or the relay itself (certificate
expired or not trusted, not reachable).
"""

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
        if exc.proxy:  # the hop in between is the likely place of a TLS inspection
            return NetworkProblem("untrusted-proxy", exc.address, exc.proxy, exc.detail)
        kind = "expired" if "expired" in exc.detail.lower() else "untrusted"
        return NetworkProblem(kind, exc.address, "", exc.detail)
    return NetworkProblem("unreachable", relay)
