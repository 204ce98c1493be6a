"""Opening the way to the relay: one route, or several raced with staggered starts.

A bare relay name gives up to three routes (raw TCP, wss, wss through the
proxy). Like happy eyeballs (RFC 8305), each starts ``STAGGER`` seconds after
the previous one, or at once when the previous one failed; the first to open
wins and the others are cancelled. A firewall that silently drops port 8340
therefore costs ``STAGGER``, not a TCP timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from zvkdiag._errors import ConnectError, PacError, ProxyError, UntrustedCertificate
from zvkdiag.transport.address import RAW_PORT, WSS_PORT, Route, parse_relay, plan_routes
from zvkdiag.transport.pac import pac_for, proxy_from_pac
from zvkdiag.transport.proxy import ProxyURL, proxy_for
from zvkdiag.transport.tls import client_context

__all__ = ["ROUTE_TIMEOUT", "STAGGER", "Opened", "open_relay", "open_route", "race"]

STAGGER: Final = 0.3
ROUTE_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class Opened:
    """A connected byte stream to the relay, and the route it took."""

    sock: socket.socket
    route: Route


async def open_relay(
    relay: str,
    *,
    proxy: str | None = None,
    pac: str | None = None,
    env: Mapping[str, str] | None = None,
    ports: tuple[int, int] = (RAW_PORT, WSS_PORT),
    stagger: float = STAGGER,
) -> Opened:
    """Open the best route to ``relay`` (``HOST``, ``HOST:PORT`` or ``wss://HOST[:PORT]``).

    ``proxy`` is the ``--proxy`` setting (``"none"`` for no proxy), ``pac`` the
    ``--pac`` one (a PAC file's URL); without them the environment
    (``HTTPS_PROXY``, ``NO_PROXY``) and, on Windows, the user's settings decide.
    ``ports`` are the raw and wss ports a bare name is tried on.

    A PAC file that fails raises its ``PacError`` for a ``wss://`` relay; for a
    bare name the direct routes are still tried, and the ``PacError`` is raised
    only when none of them opens.
    """
    address = parse_relay(relay)
    environ = os.environ if env is None else env
    chosen: ProxyURL | None = None
    pac_failed: PacError | None = None
    pac_url = None
    if address.mode != "tcp":  # a HOST:PORT relay is raw TCP: no proxy applies
        pac_url = pac_for(explicit_proxy=proxy, explicit_pac=pac, env=environ)
    if pac_url is not None:
        try:
            chosen = await proxy_from_pac(pac_url, address.host, address.port or ports[1])
        except PacError as exc:
            if address.mode != "auto":
                raise
            pac_failed = exc
    else:
        chosen = proxy_for(address.host, explicit=proxy, env=environ)
    routes = plan_routes(address, proxy=chosen, raw_port=ports[0], wss_port=ports[1])
    try:
        return await race(routes, stagger=stagger)
    except ConnectError as exc:
        if pac_failed is not None:
            raise pac_failed from exc
        raise


async def open_route(route: Route, ctx: ssl.SSLContext | None = None) -> socket.socket:
    async with asyncio.timeout(ROUTE_TIMEOUT):
        if route.carrier == "wss":
            from zvkdiag.transport.wsclient import open_wss  # wsproto: only for this carrier

            return await open_wss(route, ctx or client_context())
        return await _open_tcp(route)


async def _open_tcp(route: Route) -> socket.socket:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(route.host, route.port, type=socket.SOCK_STREAM)
        family, _, _, _, addr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectError(
            f"Cannot resolve {route.target}: {exc.strerror or exc}", address=route.target
        ) from exc
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await loop.sock_connect(sock, addr)
    except BaseException as exc:
        sock.close()
        if isinstance(exc, OSError):
            raise ConnectError(
                f"Cannot reach {route.target}: {exc.strerror or exc}", address=route.target
            ) from exc
        raise
    return sock


async def race(routes: list[Route], *, stagger: float = STAGGER) -> Opened:
    """The first route to open; the others are cancelled (and closed if they opened too)."""
    tasks: dict[asyncio.Task[socket.socket], int] = {}
    errors: dict[int, BaseException] = {}
    winner: asyncio.Task[socket.socket] | None = None

    def start() -> None:
        tasks[asyncio.create_task(_attempt(routes[len(tasks)]))] = len(tasks)

    try:
        start()
        while winner is None:
            running = [t for t in tasks if not t.done()]
            more = len(tasks) < len(routes)
            if not running and not more:
                raise _best(routes, errors)
            if not running:
                start()  # the previous route failed: do not wait out the stagger
                continue
            done, _ = await asyncio.wait(
                running, timeout=stagger if more else None, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                start()
            for t in sorted(done, key=tasks.__getitem__):
                if (exc := t.exception()) is not None:
                    errors[tasks[t]] = exc
                elif winner is None:
                    winner = t
        return Opened(winner.result(), routes[tasks[winner]])
    finally:
        await _drop_others(tasks, winner)


async def _drop_others(
    tasks: dict[asyncio.Task[socket.socket], int], winner: asyncio.Task[socket.socket] | None
) -> None:
    others = [t for t in tasks if t is not winner]
    for t in others:
        t.cancel()
    for t in others:
        with contextlib.suppress(BaseException):
            (await t).close()


async def _attempt(route: Route) -> socket.socket:
    try:
        return await open_route(route)
    except TimeoutError as exc:
        raise ConnectError(
            f"{route.describe()}: no answer within {ROUTE_TIMEOUT:g} s", address=route.target
        ) from exc


def _best(routes: list[Route], errors: dict[int, BaseException]) -> BaseException:
    """The error that tells the reader most: a proxy's or a certificate's word beats silence."""
    ordered = [errors[i] for i in sorted(errors)]
    for exc in ordered:
        if isinstance(exc, UntrustedCertificate) or (
            isinstance(exc, ProxyError) and exc.reason in ("auth", "refused")
        ):
            return exc
    if len(ordered) == 1:
        return ordered[0]
    lines = "; ".join(f"{routes[i].describe()}: {errors[i]}" for i in sorted(errors))
    return ConnectError(
        f"Cannot reach the relay {routes[0].host} on any way: {lines}", address=routes[0].host
    )
