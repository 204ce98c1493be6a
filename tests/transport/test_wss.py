"""The wss carrier end to end: real relay (TLS + WebSocket), real agent, real SSH, on loopback."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import zvkdiag
from zvkdiag.consent.model import RouteChosen
from zvkdiag.relay.server import RelayConfig
from zvkdiag.relay.wss import BUSY_READ, IDLE_READ, _LeanTLS
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.tls import ThrowawayCA
from zvkdiag.transport.address import Route
from zvkdiag.transport.tls import client_context
from zvkdiag.transport.wsclient import open_wss
from zvkdiag.wire import handshake


@pytest.fixture
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ThrowawayCA:
    ca = ThrowawayCA(tmp_path, "127.0.0.1", "relay.zvk.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))
    return ca


@pytest.fixture
def wss_relay(ca: ThrowawayCA) -> Iterator[RelayThread]:
    with RelayThread(RelayConfig(backoff_base=0.01), wss=ca.server_context()) as r:
        yield r


def test_customer_and_engineer_over_wss(wss_relay: RelayThread, consent: AutoConsent) -> None:
    with AgentThread(consent, relay=wss_relay.wss_address) as agent:
        assert "Route: wss 127.0.0.1:" in "\n".join(agent.out.lines())
        with zvkdiag.connect(
            agent.session_id, agent.password, relay=wss_relay.wss_address, engineer="Eva"
        ) as s:
            big = s.run(["head", "-c", "3000000", "/dev/zero"])
            assert len(big.stdout) == 3_000_000
    routes = [e for e in consent.events if isinstance(e, RouteChosen)]
    assert routes[0] == RouteChosen("wss", f"127.0.0.1:{wss_relay.wss_port}", None)


def test_raw_tcp_engineer_pairs_with_a_wss_customer(
    wss_relay: RelayThread, consent: AutoConsent
) -> None:
    with AgentThread(consent, relay=wss_relay.wss_address) as agent:
        with zvkdiag.connect(
            agent.session_id, agent.password, relay=wss_relay.address, engineer="Eva"
        ) as s:
            assert s.run(["echo", "hallo"]).stdout == "hallo\n"


def test_untrusted_certificate_names_the_hop(
    tmp_path: Path, wss_relay: RelayThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "other").mkdir()
    other = ThrowawayCA(tmp_path / "other", "other.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(other.ca_file))
    with pytest.raises(zvkdiag.UntrustedCertificate) as err:
        zvkdiag.connect("123456789", "abcd-efgh", relay=wss_relay.wss_address, engineer="Eva")
    assert isinstance(err.value, zvkdiag.ConnectError)
    assert f"127.0.0.1:{wss_relay.wss_port}" in str(err.value)
    assert "not trust" in str(err.value)


def test_customer_sees_an_untrusted_relay_in_german(
    tmp_path: Path, wss_relay: RelayThread, spawn: type[Proc]
) -> None:
    (tmp_path / "other").mkdir()
    other = ThrowawayCA(tmp_path / "other", "other.test")
    p = spawn(
        "quicksupport",
        "--ui",
        "console",
        "--lang",
        "de",
        "--relay",
        wss_relay.wss_address,
        env={"SSL_CERT_FILE": str(other.ca_file)},
    )
    p.expect("Die Verbindung zum Server 127.0.0.1:.* ist nicht vertrauenswürdig")


def test_relay_names_a_bad_certificate_file(tmp_path: Path, spawn: type[Proc]) -> None:
    bad = tmp_path / "cert.pem"
    bad.write_text("not a certificate")
    key = tmp_path / "key.pem"
    p = spawn("relay", "--listen-wss", "127.0.0.1:0", "--cert", str(bad), "--key", str(key))
    assert p.proc.wait(15) == 1
    assert p.proc.stderr is not None
    assert str(bad) in p.proc.stderr.read()


def test_relay_names_a_missing_key_file(ca: ThrowawayCA, tmp_path: Path, spawn: type[Proc]) -> None:
    missing = tmp_path / "nokey.pem"
    p = spawn(
        "relay", "--listen-wss", "127.0.0.1:0", "--cert", str(ca.cert_file), "--key", str(missing)
    )
    assert p.proc.wait(15) == 1
    assert p.proc.stderr is not None
    assert f"key file {missing}" in p.proc.stderr.read()


def test_relay_cli_serves_both_listeners(ca: ThrowawayCA, spawn: type[Proc]) -> None:
    p = spawn(
        "relay",
        "--listen",
        "127.0.0.1:0",
        "--listen-wss",
        "127.0.0.1:0",
        "--cert",
        str(ca.cert_file),
        "--key",
        str(ca.key_file),
    )
    raw = p.expect(r"Relay listening on (\S+)").group(1)
    wss = p.expect(r"Relay listening for wss on 127.0.0.1:(\d+)").group(1)
    with AgentThread(AutoConsent(), relay=f"wss://127.0.0.1:{wss}") as agent:
        with zvkdiag.connect(agent.session_id, agent.password, relay=raw, engineer="E") as s:
            assert s.run(["true"]).exit_status == 0


def test_the_relay_reads_an_idle_connection_with_a_small_buffer(ca: ThrowawayCA) -> None:
    """Idle offers keep one small read buffer; one that fills it grows it, up to asyncio's size."""

    async def sizes() -> list[int]:
        loop = asyncio.get_running_loop()
        tls = _LeanTLS(loop, asyncio.Protocol(), ca.server_context(), None, True)  # type: ignore[arg-type]
        seen = [len(tls.get_buffer(-1))]
        tls.buffer_updated(100)  # a short read: no growth
        seen.append(len(tls.get_buffer(-1)))
        for _ in range(4):
            tls.buffer_updated(len(tls.get_buffer(-1)))  # a read that filled the buffer
            seen.append(len(tls.get_buffer(-1)))
        return seen

    assert asyncio.run(sizes()) == [
        IDLE_READ,
        IDLE_READ,
        4 * IDLE_READ,
        16 * IDLE_READ,
        BUSY_READ,
        BUSY_READ,
    ]


def _raw_engineer(address: str, sid: str) -> socket.socket:
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=20)
    sock.sendall(handshake.format_connect(sid))
    assert sock.recv(len(handshake.PAIRED)) == handshake.PAIRED
    return sock


def _recv_all(sock: socket.socket, n: int) -> bytes:
    got = bytearray()
    while len(got) < n and (chunk := sock.recv(1 << 20)):
        got += chunk
    return bytes(got)


async def _slow_read(sock: socket.socket, n: int) -> bytes:
    """Reads in small bites with pauses, so the bridge's buffers fill and must hold back."""
    loop = asyncio.get_running_loop()
    got = bytearray()
    while len(got) < n and (chunk := await loop.sock_recv(sock, 64 * 1024)):
        got += chunk
        if len(got) % (1 << 20) < 64 * 1024:
            await asyncio.sleep(0.05)
    return bytes(got)


def test_the_wss_bridge_keeps_order_under_backpressure_and_passes_the_close(
    wss_relay: RelayThread,
) -> None:
    down = os.urandom(1 << 20) * 8 + b"end"  # more than every buffer on the way holds
    up = os.urandom(3 << 20)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        customer = await open_wss(Route("wss", "127.0.0.1", wss_relay.wss_port), client_context())
        await loop.sock_sendall(customer, handshake.format_offer(None, None))
        reply = b""
        while not reply.endswith(b"\n"):
            reply += await loop.sock_recv(customer, 1)
        sid = handshake.parse_reply(reply).session_id
        assert sid
        engineer = await asyncio.to_thread(_raw_engineer, wss_relay.address, sid)
        assert await loop.sock_recv(customer, len(handshake.PAIRED)) == handshake.PAIRED
        sender = asyncio.create_task(asyncio.to_thread(engineer.sendall, down))
        assert await _slow_read(customer, len(down)) == down
        await sender
        await loop.sock_sendall(customer, up)
        assert await asyncio.to_thread(_recv_all, engineer, len(up)) == up
        customer.close()  # the bridge closes the WebSocket; the relay ends the pair
        assert await asyncio.to_thread(engineer.recv, 1) == b""
        engineer.close()

    asyncio.run(main())
