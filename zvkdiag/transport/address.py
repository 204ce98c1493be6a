"""Relay addresses and the routes to try for them (pure: no I/O).

``HOST:PORT`` is raw TCP, as it always was; ``wss://HOST[:PORT]`` is WebSocket
over TLS (default port 443); a bare ``HOST`` lets the customer's program find
its way: raw TCP on 8340 first, then wss on 443 directly, then wss through
the proxy, each started a little after the previous one (see ``dial.race``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from zvkdiag._errors import ZvkdiagError
from zvkdiag.transport.proxy import ProxyURL

__all__ = [
    "RAW_PORT",
    "WSS_PATH",
    "WSS_PORT",
    "RelayAddress",
    "Route",
    "parse_relay",
    "plan_routes",
]

RAW_PORT: Final = 8340
WSS_PORT: Final = 443
WSS_PATH: Final = "/zvk1"
WSS_SCHEME: Final = "wss://"

Mode = Literal["tcp", "wss", "auto"]


@dataclass(frozen=True)
class RelayAddress:
    """What the user named: ``mode`` says whether the carrier was given or is ours to find."""

    mode: Mode
    host: str
    port: int | None = None  # None: the carrier's default port

    def __str__(self) -> str:
        if self.mode == "wss":
            return f"{WSS_SCHEME}{_join(self.host, self.port or WSS_PORT)}"
        if self.mode == "tcp":
            return _join(self.host, self.port or RAW_PORT)
        return self.host


@dataclass(frozen=True)
class Route:
    """One concrete way: a carrier to ``host:port``, directly or through ``proxy``."""

    carrier: Literal["tcp", "wss"]
    host: str
    port: int
    proxy: ProxyURL | None = None

    @property
    def target(self) -> str:
        return _join(self.host, self.port)

    def describe(self) -> str:
        """For logs and the audit record: ``wss relay.zvk.example:443 via proxy p:8080``."""
        via = f" via proxy {self.proxy.hostport}" if self.proxy else ""
        return f"{self.carrier} {self.target}{via}"


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_relay(text: str) -> RelayAddress:
    """``HOST:PORT`` (tcp), ``wss://HOST[:PORT]``, or a bare ``HOST`` (auto)."""
    text = text.strip()
    if text.startswith(WSS_SCHEME):
        rest = text[len(WSS_SCHEME) :].rstrip("/")
        if "/" in rest or "@" in rest:
            raise ZvkdiagError(f"{text!r}: give wss://HOST or wss://HOST:PORT, without a path")
        host, port = _split(rest, text)
        return RelayAddress("wss", host, port)
    if "://" in text:
        raise ZvkdiagError(f"{text!r}: a relay is HOST, HOST:PORT or wss://HOST[:PORT]")
    host, port = _split(text, text)
    return RelayAddress("tcp", host, port) if port is not None else RelayAddress("auto", host)


def _split(hostport: str, original: str) -> tuple[str, int | None]:
    if hostport.startswith("["):  # [v6] or [v6]:port
        host, _, rest = hostport[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else None
        if rest and port_text is None:
            raise ZvkdiagError(f"{original!r} is not a HOST:PORT address")
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    else:
        host, port_text = hostport, None  # a bare name, or a bare IPv6 address
    if not host:
        raise ZvkdiagError(f"{original!r} names no host")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ZvkdiagError(f"{original!r}: {port_text!r} is not a port number")
    return host, int(port_text)


def plan_routes(
    address: RelayAddress,
    *,
    proxy: ProxyURL | None,
    raw_port: int = RAW_PORT,
    wss_port: int = WSS_PORT,
) -> list[Route]:
    """The routes to try, in order of preference.

    A named ``wss://`` relay goes through the proxy when one applies, as a
    browser would; a named ``HOST:PORT`` is raw TCP only (proxies allow CONNECT
    to 443, rarely to anything else); a bare name tries all three.
    """
    host = address.host
    if address.mode == "tcp":
        return [Route("tcp", host, address.port or raw_port)]
    if address.mode == "wss":
        return [Route("wss", host, address.port or wss_port, proxy)]
    routes = [Route("tcp", host, raw_port), Route("wss", host, wss_port)]
    if proxy is not None:
        routes.append(Route("wss", host, wss_port, proxy))
    return routes
