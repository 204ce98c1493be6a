"""The customer agent: offers itself (relay) or listens (direct), pairs, serves one session.

Runs on one asyncio loop.  ``AgentControl`` methods may be called from any
thread (the Tk UI lives on the main thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, Final, TextIO

import asyncssh

from zvkdiag._address import parse_address
from zvkdiag._errors import (
    AuthenticationFailed,
    ConnectError,
    ProtocolError,
    SessionClosed,
    ZvkdiagError,
)
from zvkdiag._exchange import EngineerHello, customer_exchange
from zvkdiag._sockio import recv_line, send_all
from zvkdiag.agent.catalog import default_ops
from zvkdiag.agent.lifecycle import Credentials
from zvkdiag.agent.limits import SessionLimits
from zvkdiag.agent.ops import OpRegistry
from zvkdiag.agent.session import AgentSession
from zvkdiag.agent.sshserver import (
    CHANNEL_MAX_PACKET,
    CHANNEL_WINDOW,
    ENCRYPTION_ALGS,
    DenyingServer,
)
from zvkdiag.consent.audit import AuditLog, read_records
from zvkdiag.consent.model import (
    DEFAULT_TIMEOUT,
    CodeIssued,
    ConnectionInterrupted,
    ConnectionRestored,
    ConsentUI,
    FailedTry,
    NetworkProblem,
    RouteChosen,
    Scope,
    SessionEnded,
    SessionStarted,
)
from zvkdiag.resume.redial import resume_via_relay
from zvkdiag.resume.secret import ResumeSecret
from zvkdiag.resume.transport import GRACE, ResumableTransport, ResumeTunnel
from zvkdiag.transport.address import Route
from zvkdiag.transport.dial import open_relay
from zvkdiag.transport.explain import network_problem
from zvkdiag.trust.verify import NotVerified, TrustConfig, verify_engineer
from zvkdiag.wire import codes, handshake
from zvkdiag.wire.ssh import skip_ignore_packets

__all__ = ["Agent", "parse_address"]

log = logging.getLogger("zvkdiag.agent")
RELAY_RETRY: Final = (0.2, 0.5, 1.0, 2.0, 5.0)
EXPIRY_CHECK: Final = 1.0
MAX_HANDSHAKES: Final = 4


def _no_audit(kind: str, **fields: Any) -> None:
    return None


class _RelayDraining(SessionClosed):
    """The relay shuts down gracefully; its successor on the same address takes the offer."""


class Agent:
    """One customer program instance.  ``await run()`` until ``quit()``."""

    def __init__(
        self,
        ui: ConsentUI,
        *,
        relay: str | None = None,
        listen: str | None = None,
        ops: OpRegistry | None = None,
        out: TextIO | None = None,
        consent_timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        audit_log: AuditLog | None = None,
        trust: TrustConfig | None = None,
        limits: SessionLimits | None = None,
        proxy: str | None = None,
        pac: str | None = None,
        resume_grace: float = GRACE,
    ) -> None:
        if (relay is None) == (listen is None):
            raise ValueError("give exactly one of relay= or listen=")
        self.ui = ui
        self.relay = relay
        self.listen = listen
        self.proxy = proxy
        self.pac = pac
        self.resume_grace = resume_grace
        self.ops = ops or default_ops()
        self.out = out or sys.stdout
        self.consent_timeout = consent_timeout
        self.audit_log = audit_log
        self.trust = trust
        self.limits = limits or SessionLimits()
        self._clock = clock
        self.audit: Callable[..., Any] = audit_log.record if audit_log else _no_audit
        self.creds = Credentials(codes.new_id(), clock=clock)
        self.claim: str | None = None
        self.session: AgentSession | None = None
        self.address: tuple[str, int] | None = None
        self._ask_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._quit = asyncio.Event()
        self._announced_id: str | None = None
        self._ready = asyncio.Event()
        self._route: Route | None = None
        self._problem: NetworkProblem | None = None
        self._retry = asyncio.Event()

    # -- AgentControl (thread-safe) -----------------------------------------------
    def end_session(self) -> None:
        self._call(self._end_session)

    def revoke(self, scope: Scope) -> None:
        self._call(lambda: self.session.revoke(scope) if self.session else None)

    def quit(self) -> None:
        self._call(self._do_quit)

    def retry_now(self) -> None:
        """Try the relay again now instead of after the pause ("Erneut versuchen")."""
        self._call(self._retry_now)

    def _retry_now(self) -> None:
        self.audit("retry", by="customer")
        self._retry.set()

    async def _pause(self, delay: float) -> None:
        """Wait ``delay`` seconds before the next try, or until the customer asks for it."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._retry.wait()
        self._retry.clear()

    def _call(self, fn: Callable[[], object]) -> None:
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(fn)

    def _end_session(self) -> None:
        if self.session is not None:
            self.session.close("customer")

    def _do_quit(self) -> None:
        self._end_session()
        self._quit.set()

    # -- running ----------------------------------------------------------------
    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        main = self._relay_loop() if self.relay else self._direct_loop()
        tasks = [asyncio.create_task(main), asyncio.create_task(self._expiry_loop())]
        try:
            await self._quit.wait()
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            if self.session is not None:
                self.session.close("customer")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1):
                        await self.session.ended.wait()

    async def wait_ready(self) -> None:
        """Until the first ID and password are valid (tests, demo)."""
        await self._ready.wait()

    def _announce(self, reason: str) -> None:
        if self._announced_id != self.creds.session_id:
            self._announced_id = self.creds.session_id
            print(f"ID: {codes.format_id(self.creds.session_id)}", file=self.out, flush=True)
        print(f"Password: {codes.format_password(self.creds.password)}", file=self.out, flush=True)
        self.ui.show(CodeIssued(self.creds.session_id, self.creds.password, reason))
        self.audit("code", reason=reason, session_id=self.creds.session_id)
        self._ready.set()

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_CHECK)
            if self.creds.expired():
                self.creds.rotate()
                self._announce("expired")

    def _failed(self) -> int:
        tries_left, rotated = self.creds.failed()
        self.audit("failed-try", tries_left=0 if rotated else tries_left)
        self.ui.show(FailedTry(0 if rotated else tries_left))
        if rotated:
            self._announce("failed-tries")
            return 0
        return tries_left

    def _vet(self, hello: EngineerHello) -> EngineerHello:
        try:
            verdict = verify_engineer(hello.name, hello.ssh_key, hello.certificate, self.trust)
        except NotVerified as exc:
            self.audit("engineer-refused", name=hello.name, reason=str(exc))
            raise
        return dataclasses.replace(hello, name=verdict.name, verified=verdict.verified)

    def _audit_seq(self) -> int:
        return self.audit_log.last_seq if self.audit_log else 0

    def _records_from(self, first: int) -> Callable[[], list[dict[str, Any]]]:
        """This session's audit records (and only this session's) for the engineer's case."""

        def records() -> list[dict[str, Any]]:
            if self.audit_log is None:
                return []
            return [r for r in read_records(self.audit_log.path) if int(r["seq"]) >= first]

        return records

    # -- direct mode --------------------------------------------------------------
    async def _direct_loop(self) -> None:
        assert self.listen is not None
        host, port = parse_address(self.listen)
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, addr = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as lsock:
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind(addr)
            lsock.listen(16)
            lsock.setblocking(False)
            self.address = lsock.getsockname()[:2]
            print(f"Listening: {self.address[0]}:{self.address[1]}", file=self.out, flush=True)
            self._announce("start")
            attempts: set[asyncio.Task[None]] = set()
            try:
                while True:
                    # raw accept: an asyncio stream could swallow the first PAKE bytes
                    sock, _ = await loop.sock_accept(lsock)
                    sock.setblocking(False)
                    if self.session is not None or len(attempts) >= MAX_HANDSHAKES:
                        sock.close()
                        continue
                    task = asyncio.create_task(self._attempt(sock))
                    attempts.add(task)
                    task.add_done_callback(attempts.discard)
            finally:
                for task in attempts:
                    task.cancel()

    # -- relay mode ---------------------------------------------------------------
    async def _relay_loop(self) -> None:
        assert self.relay is not None
        failures = 0
        while True:
            try:
                sock = await self._offer()
                failures = 0
                await self._wait_paired(sock)
                await self._attempt(sock)
            except ConnectError as exc:
                self._tell_problem(exc)
                delay = RELAY_RETRY[min(failures, len(RELAY_RETRY) - 1)]
                failures += 1
                log.info("relay: %s; trying again in %.1f s", exc, delay)
                await self._pause(delay)
            except (OSError, ZvkdiagError) as exc:
                # a draining relay hands over to its successor on the same port: at once
                handover = isinstance(exc, _RelayDraining) and failures == 0
                delay = 0.0 if handover else RELAY_RETRY[min(failures, len(RELAY_RETRY) - 1)]
                failures += 1
                log.info("relay: %s; offering again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
            except Exception:  # a bug in one attempt must not stop the offering for good
                log.exception("relay: unexpected failure; offering again")
                failures += 1
                await asyncio.sleep(RELAY_RETRY[-1])

    async def _offer(self) -> socket.socket:
        assert self.relay is not None
        opened = await open_relay(self.relay, proxy=self.proxy, pac=self.pac)
        sock = opened.sock
        try:
            await send_all(
                sock,
                handshake.format_offer(self._announced_id and self.creds.session_id, self.claim),
            )
            reply = handshake.parse_reply(await recv_line(sock, handshake.MAX_LINE))
        except BaseException:
            sock.close()
            raise
        self._tell_route(opened.route)
        if reply.kind == "err":
            sock.close()
            if reply.reason == handshake.ERR_CLAIM:  # the relay forgot us: start afresh
                self.claim, self._announced_id = None, None
            if reply.reason == handshake.ERR_DRAINING:
                raise _RelayDraining("the relay is draining")
            raise SessionClosed(f"the relay refused the offer: {reply.reason}")
        if reply.kind != "id" or not reply.session_id:
            sock.close()
            raise ProtocolError("the relay did not answer with an ID")
        self.claim = reply.claim
        if reply.session_id != self._announced_id:
            self.creds.rebind(reply.session_id)
            self._announce("start")
        return sock

    def _tell_route(self, route: Route) -> None:
        """Say which way to the relay is in use, when it is a new one (window, console, audit)."""
        self._problem = None
        if route == self._route:
            return
        self._route = route
        proxy = route.proxy.hostport if route.proxy else None
        print(f"Route: {route.describe()}", file=self.out, flush=True)
        self.ui.show(RouteChosen(route.carrier, route.target, proxy))
        self.audit("route", carrier=route.carrier, relay=route.target, proxy=proxy)

    def _tell_problem(self, exc: ConnectError) -> None:
        problem = network_problem(exc, self.relay or "")
        if problem == self._problem:
            return
        self._problem, self._route = problem, None
        print(f"Network: {exc}", file=self.out, flush=True)
        self.ui.show(problem)
        self.audit("network-problem", problem=problem.kind, relay=problem.relay, detail=str(exc))

    async def _wait_paired(self, sock: socket.socket) -> None:
        try:
            reply = handshake.parse_reply(await recv_line(sock, handshake.MAX_LINE))
        except BaseException:
            sock.close()
            raise
        if reply.kind != "paired":
            sock.close()
            if reply.reason == handshake.ERR_DRAINING:
                raise _RelayDraining("the relay is draining")
            raise SessionClosed(f"the relay ended the offer: {reply.reason}")

    # -- one attempt: PAKE, then SSH -------------------------------------------------
    async def _attempt(self, sock: socket.socket) -> None:
        try:
            await self._attempt_inner(sock)
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    async def _attempt_inner(self, sock: socket.socket) -> None:
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        host_pub = host_key.export_public_key().decode().strip()
        keys: list[bytes] = []
        try:
            hello = await customer_exchange(
                sock,
                self.creds.session_id,
                self.creds.password,
                host_key=host_pub,
                on_failure=self._failed,
                vet=self._vet,
                on_resume_key=keys.append,
            )
        except (AuthenticationFailed, NotVerified):
            return
        except (ProtocolError, TimeoutError) as exc:
            log.info("handshake failed: %s", exc)
            self._failed()
            return
        except (SessionClosed, OSError):
            return
        if self.session is not None:  # another engineer won the race
            return
        session = AgentSession(
            hello,
            ui=self.ui,
            ops=self.ops,
            ask_lock=self._ask_lock,
            consent_timeout=self.consent_timeout,
            audit=self.audit,
            records=self._records_from(self._audit_seq() + 1),
            verified=hello.verified,
            limits=self.limits,
            clock=self._clock,
        )
        self.session = session
        self.creds.session_started()
        stream = self._resumable(ResumeSecret(keys[0], self.creds.session_id, "customer"))
        try:
            await self._serve_ssh(ResumeTunnel(stream, sock), session, host_key)
            await stream.wait_closed()
        finally:
            self.session = None
            self.creds.session_ended()
            if session.granted or session.end_reason == "denied":
                self.ui.show(SessionEnded(session.end_reason))
            self.audit("session-ended", reason=session.end_reason)
            self._announce("session-ended")

    # -- a dropped connection ----------------------------------------------------------
    def _resumable(self, secret: ResumeSecret) -> ResumableTransport:
        """SSH's stream; through a relay it survives a drop of up to ``resume_grace`` seconds."""

        async def reopen() -> socket.socket:
            assert self.relay is not None
            return (await open_relay(self.relay, proxy=self.proxy, pac=self.pac)).sock

        async def redial(token: str) -> socket.socket:
            return await resume_via_relay(reopen, secret.session_id, token, "customer")

        return ResumableTransport(
            secret,
            redial=redial if self.relay else None,
            grace=self.resume_grace,
            on_event=self._on_resume_event,
        )

    def _on_resume_event(self, kind: str) -> None:
        if kind == "interrupted":
            print("Network: interrupted, resuming", file=self.out, flush=True)
            self.ui.show(ConnectionInterrupted(self.resume_grace))
            self.audit("connection-interrupted")
        elif kind == "restored":
            print("Network: resumed", file=self.out, flush=True)
            self.ui.show(ConnectionRestored())
            self.audit("connection-restored")
            for streamer in self.session.streams if self.session else ():
                streamer.flow.request_keyframe()  # a fresh picture, not one from before the drop
        elif kind == "refused":
            self._failed()  # a wrong or replayed resumption proof counts like a wrong password
        elif kind == "gave-up":
            self.audit("connection-lost", waited=self.resume_grace)

    async def _serve_ssh(
        self, tunnel: ResumeTunnel, session: AgentSession, host_key: asyncssh.SSHKey
    ) -> None:
        client_keys = asyncssh.import_authorized_keys(session.hello.ssh_key + "\n")
        started = False
        try:
            conn = await asyncssh.connect_reverse(
                "engineer",
                tunnel=tunnel,
                config=None,
                server_factory=lambda: DenyingServer(
                    session.handle, session.connection_lost, session.sftp_factory
                ),
                server_host_keys=[host_key],
                authorized_client_keys=client_keys,
                encryption_algs=list(ENCRYPTION_ALGS),
                window=CHANNEL_WINDOW,
                max_pktsize=CHANNEL_MAX_PACKET,
                encoding=None,
                allow_pty=False,
                x11_forwarding=False,
                agent_forwarding=False,
                allow_scp=False,
                keepalive_interval=0,  # the resumable stream's heartbeat watches the carrier
                login_timeout=30,
            )
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            log.info("SSH did not start: %s", exc)
            self._failed()
            return
        session.conn = conn
        skip_ignore_packets(conn)
        self.audit(
            "session-connected", engineer=session.hello.name, verified=session.hello.verified
        )
        try:
            await _first(
                session.opened.wait(), session.ended.wait(), timeout=self.consent_timeout + 30
            )
            if session.granted:
                started = True
                self.ui.show(SessionStarted(session.hello.name, session.verified))
                await session.ended.wait()
        finally:
            if (not started and session.end_reason != "denied") or not session.end_reason:
                session.end_reason = "network"
            conn.close()
            with contextlib.suppress(Exception):
                await conn.wait_closed()


async def _first(*aws: Any, timeout: float) -> None:
    """Wait until the first awaitable finishes (or the timeout); cancel the rest."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
