"""Reaching the customer: dial, relay handshake, PAKE, SSH client with pinned keys."""

from __future__ import annotations

import asyncio
import math
import socket
from dataclasses import dataclass
from typing import Final

import asyncssh

from zvkdiag._address import parse_address
from zvkdiag._errors import (
    ConnectError,
    PeerNotFound,
    ProtocolError,
    RelayBackoff,
    SessionClosed,
    TamperingDetected,
)
from zvkdiag._exchange import EngineerHello, engineer_exchange
from zvkdiag._sockio import recv_line, send_all
from zvkdiag.resume.redial import resume_via_relay
from zvkdiag.resume.secret import ResumeSecret
from zvkdiag.resume.transport import GRACE, Events, ResumableTransport, ResumeTunnel
from zvkdiag.transport.dial import open_relay
from zvkdiag.wire import handshake
from zvkdiag.wire.ssh import (
    CHANNEL_MAX_PACKET,
    CHANNEL_WINDOW,
    ENCRYPTION_ALGS,
    skip_ignore_packets,
)

__all__ = ["CONNECT_TIMEOUT", "Identity", "Target", "dial_customer"]

CONNECT_TIMEOUT: Final = 15.0
AUTO_WAIT: Final = 5.0  # a relay backoff up to this long is waited out without bothering anyone


@dataclass(frozen=True)
class Target:
    session_id: str
    password: str
    address: str
    via_relay: bool
    proxy: str | None = None
    pac: str | None = None
    resume_grace: float = GRACE


async def _dial(address: str) -> socket.socket:
    host, port = parse_address(address)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, addr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectError(f"Cannot resolve {address}: {exc}", address=address) from exc
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await loop.sock_connect(sock, addr)
    except OSError as exc:
        sock.close()
        raise ConnectError(
            f"Cannot reach {address}: {exc.strerror or exc}", address=address
        ) from exc
    return sock


async def _open(target: Target) -> socket.socket:
    if not target.via_relay:
        return await _dial(target.address)
    return (await open_relay(target.address, proxy=target.proxy, pac=target.pac)).sock


async def _pair(sock: socket.socket, target: Target) -> None:
    await send_all(sock, handshake.format_connect(target.session_id))
    try:
        reply = handshake.parse_reply(await recv_line(sock, handshake.MAX_LINE))
    except SessionClosed as exc:
        raise ConnectError(
            f"The relay at {target.address} closed the connection.", address=target.address
        ) from exc
    if reply.kind == "paired":
        return
    if reply.kind == "err" and reply.reason == handshake.ERR_UNKNOWN_ID:
        raise PeerNotFound(
            f"No customer is waiting under ID {target.session_id[:3]} {target.session_id[3:6]} "
            f"{target.session_id[6:]}. Ask the customer to read the ID again and keep the "
            "program open."
        )
    if reply.kind == "err" and reply.retry_after is not None:
        raise _held_back(target, reply.reason or "", reply.retry_after)
    if reply.kind == "err" and reply.reason == handshake.ERR_DRAINING:
        raise _held_back(target, handshake.ERR_DRAINING, 0.0)  # its successor is on the port
    if reply.kind == "err":
        raise ConnectError(
            f"The relay at {target.address} refused: {reply.reason}.", address=target.address
        )
    raise ProtocolError("the relay answered something unexpected")


def _held_back(target: Target, reason: str, seconds: float) -> RelayBackoff:
    wait = f"{max(1, math.ceil(seconds))} s"
    if reason == handshake.ERR_DRAINING:
        text = f"The relay at {target.address} is being restarted: connect again in a moment."
    elif reason == handshake.ERR_RATE_LIMITED:
        text = (
            f"Too many IDs that no customer holds were tried from your network: wait {wait}, "
            "check the ID with the customer, then connect again."
        )
    else:
        text = (
            "The relay holds back tries for this ID from your network after failed passwords: "
            f"wait {wait}, then connect again with the password the customer's program shows now."
        )
    return RelayBackoff(text, address=target.address, retry_after=seconds, reason=reason)


class Watcher(asyncssh.SSHClient):
    """Remembers why the connection ended, so the session can say so."""

    def __init__(self) -> None:
        self.lost: Exception | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc


@dataclass(frozen=True)
class Identity:
    """The engineer's key and, when the organisation issued one, its certificate."""

    key: asyncssh.SSHKey
    certificate: str | None = None

    @classmethod
    def load(cls, path: str) -> Identity:
        try:
            key = asyncssh.read_private_key(path)
        except (OSError, asyncssh.KeyImportError) as exc:
            raise ConnectError(
                f"Cannot read your identity key {path}: {exc}", address=path
            ) from exc
        cert_path = f"{path}-cert.pub"
        try:
            with open(cert_path) as f:
                cert = f.read().strip()
        except OSError:
            cert = None
        return cls(key, cert)

    @classmethod
    def ephemeral(cls) -> Identity:
        return cls(asyncssh.generate_private_key("ssh-ed25519"))


async def dial_customer(
    target: Target,
    engineer: str,
    *,
    identity: Identity | None = None,
    on_link: Events | None = None,
) -> tuple[asyncssh.SSHClientConnection, Watcher]:
    """Return an authenticated SSH connection to the customer's agent.

    ``on_link`` is told when the carrier below SSH drops and when it resumed
    (``zvkdiag.resume.transport.Events``), on this loop.

    Every failure is a ``ZvkdiagError``: running out of ``CONNECT_TIMEOUT`` is a
    ``ConnectError``, a relay backoff longer than ``AUTO_WAIT`` a ``RelayBackoff``.
    """
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            return await _dial_customer(target, engineer, identity, on_link)
    except TimeoutError as exc:
        raise ConnectError(
            f"The customer's program did not answer within {CONNECT_TIMEOUT:g} s (via "
            f"{target.address}). Ask the customer to keep the program open, then connect again.",
            address=target.address,
        ) from exc


async def _paired_socket(target: Target) -> socket.socket:
    """Dial, and pair through the relay; wait out one short backoff."""
    for attempt in (1, 2):
        sock = await _open(target)
        try:
            if target.via_relay:
                await _pair(sock, target)
            return sock
        except RelayBackoff as exc:
            sock.close()
            if attempt == 2 or exc.retry_after > AUTO_WAIT:
                raise
            await asyncio.sleep(exc.retry_after)
        except BaseException:
            sock.close()
            raise
    raise AssertionError("unreachable")


async def _dial_customer(
    target: Target, engineer: str, identity: Identity | None, on_link: Events | None
) -> tuple[asyncssh.SSHClientConnection, Watcher]:
    sock = await _paired_socket(target)
    stream: ResumableTransport | None = None
    try:
        ident = identity or Identity.ephemeral()
        client_key = ident.key
        hello = EngineerHello(
            client_key.export_public_key().decode().strip(), engineer, ident.certificate
        )
        keys: list[bytes] = []
        host_pub = await engineer_exchange(
            sock, target.session_id, target.password, hello=hello, on_resume_key=keys.append
        )
        watcher = Watcher()
        secret = ResumeSecret(keys[0], target.session_id, "engineer")
        stream = _resumable(target, secret, on_link)
        return await _ssh(ResumeTunnel(stream, sock), host_pub, client_key, watcher), watcher
    except BaseException:
        sock.close()
        if stream is not None:  # SSH failed above it: nothing is left to say goodbye to
            stream.close()
            await asyncio.shield(stream.wait_closed(timeout=0))
        raise


def _resumable(target: Target, secret: ResumeSecret, on_link: Events | None) -> ResumableTransport:
    """SSH's stream; through a relay it survives a drop of up to ``resume_grace`` seconds."""

    async def redial(token: str) -> socket.socket:
        return await resume_via_relay(lambda: _open(target), target.session_id, token, "engineer")

    return ResumableTransport(
        secret,
        redial=redial if target.via_relay else None,
        grace=target.resume_grace,
        on_event=on_link,
    )


async def _ssh(
    tunnel: ResumeTunnel, host_pub: str, client_key: asyncssh.SSHKey, watcher: Watcher
) -> asyncssh.SSHClientConnection:
    try:
        host_key = asyncssh.import_public_key(host_pub)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise ProtocolError("the customer's host key is malformed") from exc
    try:
        conn = await asyncssh.connect(
            "customer",
            tunnel=tunnel,
            config=None,
            client_factory=lambda: watcher,
            username="engineer",
            known_hosts=([host_key], [], []),
            client_keys=[client_key],
            agent_path=None,
            encryption_algs=list(ENCRYPTION_ALGS),
            window=CHANNEL_WINDOW,
            max_pktsize=CHANNEL_MAX_PACKET,
            preferred_auth="publickey",
            encoding=None,
            keepalive_interval=0,  # the resumable stream's heartbeat watches the carrier
            x11_forwarding=False,
            gss_host=None,
        )
    except (
        asyncssh.HostKeyNotVerifiable,
        asyncssh.PermissionDenied,
        asyncssh.KeyExchangeFailed,
        asyncssh.MACError,
        asyncssh.ProtocolError,
    ) as exc:
        raise TamperingDetected(
            "The encrypted connection could not be verified: someone between you and the "
            f"customer changed it ({exc.reason})."
        ) from exc
    except (asyncssh.Error, OSError) as exc:
        raise SessionClosed(f"The connection broke while it was being secured: {exc}") from exc
    skip_ignore_packets(conn)
    return conn
