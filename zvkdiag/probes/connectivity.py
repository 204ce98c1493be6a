"""The connectivity probe: DNS, TCP and TLS to endpoints the engineer names, with timings.

Endpoints are ``host:port`` (DNS + TCP) or ``tls://host:port`` (also a TLS
handshake).  A certificate that does not verify is reported (``tls_verified``
false plus the reason) and then read without verification, so the engineer
still sees subject and expiry -- the usual cause is an intercepting proxy.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from cryptography import x509

from zvkdiag.probes.base import Parameter, Probe, ProbeContext, Record, schema

__all__ = ["ConnectivityProbe", "Endpoint", "parse_endpoint"]

DEFAULT_ENDPOINT_TIMEOUT: Final = 5.0


@dataclass(frozen=True)
class Endpoint:
    text: str
    host: str
    port: int
    tls: bool


def parse_endpoint(text: str) -> Endpoint:
    """``host:port``, ``[v6]:port`` or ``tls://host:port``; raises ValueError otherwise."""
    rest = text.strip()
    tls = rest.lower().startswith("tls://")
    if tls:
        rest = rest[6:]
    elif "://" in rest:
        raise ValueError(f"endpoint {text!r}: only tls:// may prefix host:port")
    if rest.startswith("["):
        host, _, port_text = rest[1:].partition("]:")
    else:
        host, _, port_text = rest.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"endpoint {text!r} is not host:port")
    return Endpoint(text=text, host=host, port=int(port_text), tls=tls)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 3)


class ConnectivityProbe(Probe):
    name = "connectivity"
    title_de = "Verbindungstest"
    title_en = "Connection test"
    description_de = (
        "Prüft, ob dieser PC die vom Techniker genannten Adressen erreicht: Namensauflösung, "
        "Verbindungsaufbau und sichere Verbindung, jeweils mit Dauer."
    )
    description_en = (
        "Checks whether this PC reaches the addresses the engineer names: name lookup, "
        "connection and secure connection, each with its duration."
    )
    platforms = frozenset({"linux", "windows", "darwin"})
    columns = schema(
        endpoint="string",
        host="string",
        port="Int64",
        address="string",
        dns_ms="float64",
        tcp_ms="float64",
        tls_ms="float64",
        tls_version="category",
        tls_verified="boolean",
        cert_subject="string",
        cert_issuer="string",
        cert_not_after="datetime64[ns, UTC]",
        ok="bool",
        error="string",
    )
    never_collect = ("data beyond the TLS handshake", "cookies or credentials")
    timeout = 60.0
    default = False  # needs endpoints from the engineer
    parameters = (
        Parameter("endpoints", "list[str]", [], "host:port or tls://host:port", max_items=20),
        Parameter(
            "endpoint_timeout", "float", DEFAULT_ENDPOINT_TIMEOUT, "seconds per step",
            minimum=0.1, maximum=30.0,
        ),
    )  # fmt: skip

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        endpoints = ctx.params.get("endpoints") or []
        limit = float(ctx.params.get("endpoint_timeout", DEFAULT_ENDPOINT_TIMEOUT))  # type: ignore[arg-type]
        if not endpoints:
            ctx.warn("no endpoints given")
        for text in endpoints if isinstance(endpoints, list) else []:
            if ctx.cancelled:
                return
            yield check_endpoint(str(text), timeout=limit)


def _empty(text: str) -> Record:
    row: Record = dict.fromkeys(ConnectivityProbe.columns)
    return row | {"endpoint": text, "ok": False}


def check_endpoint(text: str, *, timeout: float) -> Record:
    """DNS, TCP and (for ``tls://``) TLS towards one endpoint; never raises."""
    row = _empty(text)
    try:
        ep = parse_endpoint(text)
    except ValueError as exc:
        row["error"] = str(exc)
        return row
    row |= {"host": ep.host, "port": ep.port}
    start = time.perf_counter()
    try:
        infos = socket.getaddrinfo(ep.host, ep.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        row |= {"dns_ms": _ms(start), "error": f"DNS: {exc}"}
        return row
    row["dns_ms"] = _ms(start)
    _family, _, _, _, sockaddr = infos[0]
    row["address"] = str(sockaddr[0])
    start = time.perf_counter()
    try:
        sock = socket.create_connection((str(sockaddr[0]), ep.port), timeout=timeout)
    except OSError as exc:
        row |= {"tcp_ms": _ms(start), "error": f"TCP: {exc}"}
        return row
    row["tcp_ms"] = _ms(start)
    sock.close()
    if ep.tls:
        row |= _tls_check(ep, str(sockaddr[0]), timeout)
    row["ok"] = row["error"] is None
    return row


def _tls_check(ep: Endpoint, address: str, timeout: float) -> Record:
    verified_ctx = ssl.create_default_context()
    start = time.perf_counter()
    try:
        version, der = _handshake(verified_ctx, ep.host, address, ep.port, timeout)
        return {"tls_ms": _ms(start), "tls_verified": True, "tls_version": version} | _cert(der)
    except ssl.SSLCertVerificationError as exc:
        reason = f"TLS: certificate not trusted: {exc.verify_message or exc}"
    except (OSError, ssl.SSLError) as exc:
        return {"tls_ms": _ms(start), "error": f"TLS: {exc}"}
    loose = ssl.create_default_context()
    loose.check_hostname = False
    loose.verify_mode = ssl.CERT_NONE
    start = time.perf_counter()
    try:
        version, der = _handshake(loose, ep.host, address, ep.port, timeout)
    except (OSError, ssl.SSLError) as exc:
        return {"tls_ms": _ms(start), "tls_verified": False, "error": f"{reason}; then {exc}"}
    fields: Record = {"tls_ms": _ms(start), "tls_verified": False, "tls_version": version}
    return fields | _cert(der) | {"error": reason}


def _handshake(
    context: ssl.SSLContext, host: str, address: str, port: int, timeout: float
) -> tuple[str | None, bytes | None]:
    with (
        socket.create_connection((address, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return tls.version(), tls.getpeercert(binary_form=True)


def _cert(der: bytes | None) -> Record:
    if not der:
        return {}
    cert = x509.load_der_x509_certificate(der)
    not_after: dt.datetime = cert.not_valid_after_utc
    return {
        "cert_subject": cert.subject.rfc4514_string(),
        "cert_issuer": cert.issuer.rfc4514_string(),
        "cert_not_after": not_after if 1678 <= not_after.year <= 2261 else None,
    }
