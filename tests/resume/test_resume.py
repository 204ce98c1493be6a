"""A dropped connection resumes: real relay process, real agent and session, a cut path.

``CuttableLink`` sits between the customer's agent and the relay (and in some
tests the engineer's side too); ``cut()`` resets every connection on it, as a
Wi-Fi drop does. The grace is a parameter (60 s in production) so the tests
that wait it out stay quick.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

import zvkdiag
from zvkdiag.consent.model import (
    ConnectionInterrupted,
    ConnectionRestored,
    FailedTry,
    Scope,
    SessionEnded,
)
from zvkdiag.resume import frames
from zvkdiag.testing.cut import CuttableLink
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.proxies import TcpProxy
from zvkdiag.testing.tls import ThrowawayCA
from zvkdiag.testing.xvfb import xvfb

GRACE = 30.0  # long enough never to run out in the tests that resume


@pytest.fixture
def relay_procs() -> Iterator[list[Proc]]:
    procs: list[Proc] = []
    yield procs
    for p in procs:
        p.stop()


def _relay(procs: list[Proc], listen: str = "127.0.0.1:0") -> str:
    p = Proc("relay", "--listen", listen)
    procs.append(p)
    return p.expect(r"Relay listening on (\S+)").group(1)


def _connect(agent: AgentThread, relay: str, grace: float = GRACE) -> zvkdiag.Session:
    return zvkdiag.connect(
        agent.session_id, agent.password, relay=relay, engineer="Erika", resume_grace=grace
    )


def _events(ui: AutoConsent, kind: type) -> int:
    return sum(isinstance(e, kind) for e in ui.events)


def _session_asks(ui: AutoConsent) -> int:
    return sum(r.scope is Scope.SESSION for r in ui.requests)


def test_a_download_across_a_cut_completes_with_the_right_hash(
    relay_procs: list[Proc], tmp_path: Path
) -> None:
    relay = _relay(relay_procs)
    src = tmp_path / "gross.bin"
    src.write_bytes(os.urandom(24 * 1024 * 1024))
    ui = AutoConsent()
    with (
        CuttableLink(relay, rate=6e6) as link,
        AgentThread(ui, relay=link.address, resume_grace=GRACE) as agent,
        _connect(agent, link.address) as s,
    ):
        assert s.run(["echo", "vorher"]).stdout == "vorher\n"
        out = tmp_path / "out"
        out.mkdir()
        done: Future[Path] = Future()
        worker = threading.Thread(target=lambda: done.set_result(s.download(str(src), out)))
        worker.start()
        assert ui.wait_for(lambda: any(r.scope is Scope.FILE_DOWNLOAD for r in ui.requests))
        threading.Event().wait(1.0)  # part of the file is on its way
        assert not done.done()
        link.cut()
        assert ui.wait_for(lambda: _events(ui, ConnectionInterrupted) == 1)
        link.restore()
        assert ui.wait_for(lambda: _events(ui, ConnectionRestored) == 1, timeout=20)
        got = done.result(timeout=120)
        worker.join()
        assert (
            hashlib.sha256(got.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
        )
        assert s.run(["echo", "nachher"]).stdout == "nachher\n"
        assert _session_asks(ui) == 1  # consent already given stays given
        assert _events(ui, SessionEnded) == 0
        kinds = agent.audit_path().read_text()
    assert "connection-interrupted" in kinds and "connection-restored" in kinds


def test_a_relay_restart_is_survived(relay_procs: list[Proc]) -> None:
    relay = _relay(relay_procs)
    ui = AutoConsent()
    with (
        AgentThread(ui, relay=relay, resume_grace=GRACE) as agent,
        _connect(agent, relay) as s,
    ):
        assert s.run(["echo", "1"]).stdout == "1\n"
        relay_procs[0].proc.kill()
        relay_procs[0].proc.wait()
        assert ui.wait_for(lambda: _events(ui, ConnectionInterrupted) == 1)
        _relay(relay_procs, relay)  # a new process that knows nothing of the session
        assert ui.wait_for(lambda: _events(ui, ConnectionRestored) == 1, timeout=20)
        assert s.run(["echo", "2"]).stdout == "2\n"
        assert _session_asks(ui) == 1


def test_not_back_within_the_grace_ends_the_session_and_rotates_the_password(
    relay_procs: list[Proc],
) -> None:
    relay = _relay(relay_procs)
    ui = AutoConsent()
    with (
        CuttableLink(relay) as link,
        AgentThread(ui, relay=link.address, resume_grace=1.0) as agent,
    ):
        old = agent.password
        s = _connect(agent, link.address, grace=1.0)
        assert s.run(["echo", "x"]).stdout == "x\n"
        link.cut()  # and it stays cut
        assert ui.wait_for(lambda: _events(ui, SessionEnded) == 1, timeout=20)
        assert _events(ui, ConnectionInterrupted) == 1 and _events(ui, ConnectionRestored) == 0
        with pytest.raises(zvkdiag.SessionClosed):
            s.run(["true"])
        s.close()
        link.restore()
        assert agent.fresh_password(old) != old


# -- a third party cannot resume --------------------------------------------------------------
def _hostile_relay(
    kind: str, recorded: bytes, result: Future[bytes]
) -> tuple[socket.socket, threading.Thread]:
    """Answers the customer's RESUME with PAIRED, then a replayed or a made-up proof."""
    lsock = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        try:
            conn, _ = lsock.accept()
            with conn:
                conn.settimeout(10)
                line = b""
                while not line.endswith(b"\n"):
                    line += conn.recv(1)
                conn.sendall(b"PAIRED\n")
                if kind == "replayed":
                    conn.sendall(recorded)
                else:
                    hello = frames.Hello(os.urandom(32), 0)
                    conn.sendall(
                        frames.encode_hello(hello)
                        + frames.encode(frames.Kind.PROOF, os.urandom(32))
                    )
                got = b""
                while chunk := conn.recv(4096):
                    got += chunk
                result.set_result(line + got)
        except OSError as exc:
            result.set_exception(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return lsock, thread


def _recorded_engineer_proof(spy: TcpProxy) -> bytes:
    """The engineer's HELLO and PROOF of the last resumption, as a recording relay saw them."""
    up = bytes(spy.recorded["up"])
    start = up.rindex(b"ZVK1 RESUME")
    start = up.index(b"\n", start) + 1
    return up[start : start + 5 + 40 + 5 + 32]


@pytest.mark.parametrize("kind", ["replayed", "made-up"])
def test_a_recording_relay_cannot_resume_and_the_try_is_counted(
    relay_procs: list[Proc], kind: str
) -> None:
    relay = _relay(relay_procs)
    ui = AutoConsent()
    with (
        TcpProxy(relay) as spy,
        CuttableLink(relay) as link,
        AgentThread(ui, relay=link.address, resume_grace=GRACE) as agent,
        _connect(agent, spy.address) as s,
    ):
        # one honest resumption, recorded on the engineer's side
        link.cut()
        link.restore()
        assert ui.wait_for(lambda: _events(ui, ConnectionRestored) == 1, timeout=20)
        assert s.run(["echo", "a"]).stdout == "a\n"
        recorded = _recorded_engineer_proof(spy)
        assert len(recorded) == 82

        # the next drop: the customer's side reaches a relay that replays what it recorded
        result: Future[bytes] = Future()
        lsock, thread = _hostile_relay(kind, recorded, result)
        with lsock:
            link.retarget(f"127.0.0.1:{lsock.getsockname()[1]}")
            link.cut()
            link.restore()
            seen = result.result(timeout=20)
            thread.join()
        assert seen.startswith(b"ZVK1 RESUME ") and seen.endswith(
            frames.encode(frames.Kind.REFUSED)
        )
        assert ui.wait_for(lambda: _events(ui, FailedTry) == 1)

        # the real engineer still resumes: the failed try used up nothing
        link.retarget(relay)
        assert ui.wait_for(lambda: _events(ui, ConnectionRestored) == 2, timeout=20)
        assert s.run(["echo", "b"]).stdout == "b\n"
        assert _session_asks(ui) == 1


def test_the_screen_view_continues_with_a_fresh_keyframe(
    relay_procs: list[Proc], monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = _relay(relay_procs)
    ui = AutoConsent()
    with xvfb(320, 240) as screen:
        monkeypatch.setenv("DISPLAY", screen.display)  # the in-process agent captures this
        with (
            CuttableLink(relay) as link,
            AgentThread(ui, relay=link.address, resume_grace=GRACE) as agent,
            _connect(agent, link.address) as s,
        ):
            got: list[bool] = []
            wanted = threading.Event()

            async def view() -> None:
                async for frame in s.frames():
                    got.append(frame.frame.keyframe)
                    if wanted.is_set() and frame.frame.keyframe and _events(ui, ConnectionRestored):
                        return

            viewer = threading.Thread(target=lambda: asyncio.run(view()))
            viewer.start()
            assert ui.wait_for(lambda: bool(got))
            link.cut()
            assert ui.wait_for(lambda: _events(ui, ConnectionInterrupted) == 1)
            before = len(got)
            wanted.set()
            link.restore()
            viewer.join(timeout=30)
            assert not viewer.is_alive()
            assert len(got) > before and got[-1]  # a keyframe after the drop
            assert _session_asks(ui) == 1
            assert sum(r.scope is Scope.SCREEN_VIEW for r in ui.requests) == 1


def test_over_wss_a_cut_resumes_and_quitting_ends_the_session_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quit is no drop: the engineer's side ends well before the grace would run out."""
    ca = ThrowawayCA(tmp_path, "relay.zvk.test", "127.0.0.1")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))
    for var in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    ui = AutoConsent()
    with (
        RelayThread(wss=ca.server_context()) as relay,
        CuttableLink(f"127.0.0.1:{relay.wss_port}") as link,
    ):
        wss = f"wss://{link.address}"
        with AgentThread(ui, relay=wss, resume_grace=GRACE) as agent:
            s = _connect(agent, wss)
            link.cut()
            link.restore()
            assert ui.wait_for(lambda: _events(ui, ConnectionRestored) == 1, timeout=20)
            assert s.run(["echo", "wss"]).stdout == "wss\n"
            agent.agent.quit()
            deadline = time.monotonic() + GRACE / 3
            while not s.closed and time.monotonic() < deadline:
                time.sleep(0.05)
            assert s.closed
            s.close()


def test_the_customer_reads_interrupted_then_reconnected_in_german(
    relay_procs: list[Proc],
) -> None:
    """The real quicksupport program with the console UI, as a child process."""
    relay = _relay(relay_procs)
    with CuttableLink(relay) as link:
        cust = Proc("quicksupport", "--relay", link.address, "--ui", "console", "--lang", "de")
        relay_procs.append(cust)
        sid = cust.expect(r"^ID: (\d{3} \d{3} \d{3})$").group(1)
        pw = cust.expect(r"^Password: (\S+)$").group(1)
        box: Future[zvkdiag.Session] = Future()
        threading.Thread(
            target=lambda: box.set_result(
                zvkdiag.connect(sid, pw, relay=link.address, engineer="Erika")
            )
        ).start()
        cust.expect(r"Erlauben\? \[y/n\]|Erlaubt")
        cust.send("y")
        with box.result(timeout=15) as s:
            link.cut()
            cust.expect("Verbindung unterbrochen – wird wiederhergestellt")
            link.restore()
            cust.expect("wieder verbunden", timeout=30)
            ran: Future[str] = Future()
            threading.Thread(target=lambda: ran.set_result(s.run(["echo", "x"]).stdout)).start()
            cust.expect("möchte diesen Befehl")  # asked for the command, not for the session
            cust.send("y")
            assert ran.result(timeout=15) == "x\n"
