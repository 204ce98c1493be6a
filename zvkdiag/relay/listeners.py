"""One relay, one or two listeners: raw TCP (``--listen``) and wss (``--listen-wss``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from zvkdiag._errors import ZvkdiagError
from zvkdiag.relay.server import Relay, RelayConfig
from zvkdiag.relay.wss import start_wss_relay
from zvkdiag.transport.tls import server_context

__all__ = ["DEFAULT_LISTEN", "start_listeners"]

DEFAULT_LISTEN = "127.0.0.1:8340"


def _hostport(text: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT`` (port 0: any free port) or ``HOST``."""
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:
        return text.strip("[]"), default_port
    if not port.isdigit() or int(port) > 65535:
        raise ZvkdiagError(f"{text!r} is not a HOST:PORT address to listen on")
    return host.strip("[]"), int(port)


async def start_listeners(
    *,
    listen: str | None,
    listen_wss: str | None,
    cert: str | None,
    key: str | None,
    config: RelayConfig | None = None,
    say: Callable[[str], None] = print,
) -> list[asyncio.Server]:
    """Start the listeners asked for (raw TCP on the default address if none is)."""
    if listen_wss and not (cert and key):
        raise ZvkdiagError("--listen-wss needs --cert FILE and --key FILE")
    ctx = server_context(cert, key) if listen_wss and cert and key else None
    relay = Relay(config)
    loop = asyncio.get_running_loop()
    servers = []
    if listen or not listen_wss:
        host, port = _hostport(listen or DEFAULT_LISTEN, 8340)
        servers.append(await loop.create_server(relay.protocol, host, port, backlog=1024))
        name = servers[-1].sockets[0].getsockname()
        say(f"Relay listening on {name[0]}:{name[1]}")
    if listen_wss and ctx is not None:
        host, port = _hostport(listen_wss, 443)
        servers.append(await start_wss_relay(relay, host, port, ctx))
        name = servers[-1].sockets[0].getsockname()
        say(f"Relay listening for wss on {name[0]}:{name[1]}")
    return servers
