"""TLS on the relay's port: SIGHUP reloads the certificate without dropping a session."""

from __future__ import annotations

import datetime as dt
import os
import signal
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from zvkdiag.testing.procs import Proc

from ._client import dial, pair, recv_exactly
from ._scrape import Samples, scrape_until, value


def _cert(name: str) -> tuple[bytes, bytes, bytes]:
    """(cert PEM, key PEM, cert DER) of a self-signed certificate for localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key_pem,
        cert.public_bytes(serialization.Encoding.DER),
    )


def _client() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test compares the certificate itself
    return ctx


def _served_cert(address: str) -> bytes | None:
    sock = dial(address, tls=_client())
    assert isinstance(sock, ssl.SSLSocket)
    der = sock.getpeercert(binary_form=True)
    sock.close()
    return der


def _write(dir_: Path, cert: bytes, key: bytes) -> None:
    for name, data in (("relay.key", key), ("relay.crt", cert)):
        tmp = dir_ / f".{name}"
        tmp.write_bytes(data)
        os.replace(tmp, dir_ / name)  # as certbot and friends do: never half a file


def test_sighup_reloads_the_certificate_and_the_old_session_keeps_streaming(
    spawn: type[Proc], tmp_path: Path
) -> None:
    a_pem, a_key, a_der = _cert("relay-a")
    b_pem, b_key, b_der = _cert("relay-b")
    _write(tmp_path, a_pem, a_key)
    relay = spawn(
        "relay", "--listen", "127.0.0.1:0",
        "--cert", str(tmp_path / "relay.crt"), "--key", str(tmp_path / "relay.key"),
        "--metrics", "127.0.0.1:0",
    )  # fmt: skip
    url = relay.expect(r"Metrics on (\S+)").group(1)
    address = relay.expect(r"Relay listening on (\S+)").group(1)
    assert _served_cert(address) == a_der
    cust, eng, _ = pair(address, tls=_client())
    cust.sendall(b"before")
    assert recv_exactly(eng, 6) == b"before"

    _write(tmp_path, b_pem, b_key)
    relay.proc.send_signal(signal.SIGHUP)
    relay.expect(r"Certificate reloaded")
    assert _served_cert(address) == b_der
    for _ in range(20):  # the session set up under A streams on, both ways
        cust.sendall(b"x" * 10_000)
        assert recv_exactly(eng, 10_000) == b"x" * 10_000
        eng.sendall(b"y" * 5_000)
        assert recv_exactly(cust, 5_000) == b"y" * 5_000
    cust2, eng2, _ = pair(address, tls=_client())  # new pairs work under B
    cust2.sendall(b"new")
    assert recv_exactly(eng2, 3) == b"new"

    (tmp_path / "relay.key").write_text("not a key\n")  # a broken reload keeps B
    relay.proc.send_signal(signal.SIGHUP)
    assert _served_cert(address) == b_der
    for s in (cust, eng, cust2, eng2):
        s.close()

    def conns(samples: Samples, result: str) -> float:
        return value(samples, "zvkdiag_relay_connections_total", transport="tls", result=result)

    # the pair under A streamed; the one under B moved 3 bytes: a failed try to the relay
    samples = scrape_until(url, lambda x: conns(x, "paired") + conns(x, "failed_try") == 4)
    assert conns(samples, "paired") == 2 and conns(samples, "failed_try") == 2
    relay.stop()
    assert relay.proc.stderr is not None
    err = relay.proc.stderr.read()
    assert "Certificate not reloaded" in err and str(tmp_path / "relay.key") in err


def test_a_bad_certificate_or_key_file_is_a_clear_error_at_start(
    spawn: type[Proc], tmp_path: Path
) -> None:
    a_pem, a_key, _ = _cert("a")
    _, b_key, _ = _cert("b")
    (tmp_path / "ok.crt").write_bytes(a_pem)
    (tmp_path / "ok.key").write_bytes(a_key)
    (tmp_path / "other.key").write_bytes(b_key)
    (tmp_path / "junk.crt").write_text("junk\n")
    cases = [
        ("missing.crt", "ok.key", "missing.crt"),
        ("junk.crt", "ok.key", "junk.crt"),
        ("ok.crt", "ok.crt", "ok.crt"),  # a certificate where the key should be
        ("ok.crt", "other.key", "other.key"),  # a key of another certificate
    ]
    for cert, key, named in cases:
        relay = spawn(
            "relay", "--listen", "127.0.0.1:0",
            "--cert", str(tmp_path / cert), "--key", str(tmp_path / key),
        )  # fmt: skip
        assert relay.proc.wait(30) == 1, (cert, key)
        assert relay.proc.stderr is not None
        err = relay.proc.stderr.read()
        assert str(tmp_path / named) in err and "Traceback" not in err, err


def test_sighup_reload_reaches_the_wss_listener_and_the_raw_port_stays_plain(
    spawn: type[Proc], tmp_path: Path
) -> None:
    a_pem, a_key, a_der = _cert("relay-a")
    b_pem, b_key, b_der = _cert("relay-b")
    _write(tmp_path, a_pem, a_key)
    relay = spawn(
        "relay", "--listen", "127.0.0.1:0", "--listen-wss", "127.0.0.1:0",
        "--cert", str(tmp_path / "relay.crt"), "--key", str(tmp_path / "relay.key"),
    )  # fmt: skip
    raw = relay.expect(r"Relay listening on (\S+)").group(1)
    wss = relay.expect(r"Relay listening for wss on (\S+)").group(1)
    assert _served_cert(wss) == a_der
    cust, eng, _ = pair(raw)  # the raw port speaks plain TCP beside wss
    cust.sendall(b"plain")
    assert recv_exactly(eng, 5) == b"plain"
    _write(tmp_path, b_pem, b_key)
    relay.proc.send_signal(signal.SIGHUP)
    relay.expect(r"Certificate reloaded")
    assert _served_cert(wss) == b_der
    for s in (cust, eng):
        s.close()
    relay.stop()
