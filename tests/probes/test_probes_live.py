"""Live probes on this Linux machine: every applicable probe returns rows of its declared schema."""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from zvkdiag.probes.base import ProbeContext, record_problems
from zvkdiag.probes.connectivity import ConnectivityProbe
from zvkdiag.probes.registry import DEFAULT_REGISTRY
from zvkdiag.probes.runner import run_probe, run_probes
from zvkdiag.probes.wire import decode_result, encode_result

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="live Linux probes")

LINUX_PROBES = [p for p in DEFAULT_REGISTRY if p.applies("linux") and p.name != "connectivity"]
MAY_BE_EMPTY = {"event_log", "printers", "users_sessions"}
"""Nothing to report on this machine: no journal, no CUPS, nobody signed in on a terminal."""


@pytest.fixture(scope="module")
def listening_socket() -> Iterator[socket.socket]:
    """Guarantees at least one connection for the connections probe."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


@pytest.mark.parametrize("probe", LINUX_PROBES, ids=lambda p: p.name)
def test_probe_yields_declared_schema(probe: type, listening_socket: socket.socket) -> None:
    ctx = ProbeContext(probe.resolve_params({}), platform="linux")
    records = list(probe().collect(ctx))
    problems = [p for r in records for p in record_problems(probe, r)]
    assert problems == []
    if probe.name not in MAY_BE_EMPTY:
        assert records, f"{probe.name} returned no rows; warnings: {ctx.warnings}"


def test_default_set_decodes_to_exact_dtypes(listening_socket: socket.socket) -> None:
    results = run_probes()
    assert set(results) == set(DEFAULT_REGISTRY.defaults("linux"))
    for name, result in results.items():
        probe = DEFAULT_REGISTRY.get(name)
        df, _ = decode_result(encode_result(result), probe)
        assert {c: str(t) for c, t in df.dtypes.items()} == dict(probe.columns), name
        assert len(df) == len(result.records)
    port = listening_socket.getsockname()[1]
    connections, _ = decode_result(
        encode_result(results["connections"]), DEFAULT_REGISTRY.get("connections")
    )
    assert port in connections["local_port"].dropna().tolist()
    processes = results["processes"]
    assert any(r["pid"] == os.getpid() for r in processes.records)


def make_cert(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[int]:
    """A TLS server on 127.0.0.1 with a self-signed certificate, handshakes only."""
    cert, key = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def test_connectivity_to_loopback_endpoints(tls_server: int) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        closed_port = closed.getsockname()[1]
    endpoints = [
        f"tls://localhost:{tls_server}",
        f"127.0.0.1:{tls_server}",
        f"127.0.0.1:{closed_port}",
        "no port here",
    ]
    result = run_probe("connectivity", {"endpoints": endpoints, "endpoint_timeout": 2.0})
    df, warnings = decode_result(encode_result(result), ConnectivityProbe)
    assert {c: str(t) for c, t in df.dtypes.items()} == dict(ConnectivityProbe.columns)
    tls, tcp, closed_row, bad = (df.iloc[i] for i in range(4))
    assert tls["cert_subject"] == "CN=localhost"
    assert bool(tls["tls_verified"]) is False
    assert "not trusted" in tls["error"]
    assert tls["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert tls["cert_not_after"] > dt.datetime.now(dt.UTC)
    assert tls["tcp_ms"] >= 0 and tls["tls_ms"] >= 0 and tls["dns_ms"] >= 0
    assert bool(tcp["ok"]) and pd.isna(tcp["tls_ms"])
    assert not bool(closed_row["ok"]) and closed_row["error"].startswith("TCP:")
    assert "not host:port" in bad["error"]
    assert warnings == []


def test_connectivity_without_endpoints_warns() -> None:
    result = run_probe("connectivity")
    assert result.records == ()
    assert result.warnings == ("no endpoints given",)
