"""TLS contexts: the client trusts what the operating system trusts; the relay loads its files.

TLS adds reachability, not trust: SPAKE2 and the pinned SSH keys still prove
who is at the other end. The client checks the relay's certificate against
the OS trust store (``truststore``), so a company's TLS-inspection CA that its
IT installed is accepted, and on Linux ``SSL_CERT_FILE`` is honoured.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import truststore
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from zvkdiag._errors import ZvkdiagError

__all__ = ["client_context", "server_context"]


def client_context() -> ssl.SSLContext:
    ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ZvkdiagError(
            f"Cannot read the TLS {what} file {path}: {exc.strerror or exc}"
        ) from exc


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The relay's context; every bad file is named in the error."""
    try:
        x509.load_pem_x509_certificates(_read(cert, "certificate"))
    except ValueError as exc:
        raise ZvkdiagError(f"The TLS certificate file {cert} holds no PEM certificate") from exc
    try:
        serialization.load_pem_private_key(_read(key, "key"), password=None)
    except (ValueError, TypeError) as exc:
        raise ZvkdiagError(f"The TLS key file {key} holds no unencrypted PEM private key") from exc
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise ZvkdiagError(
            f"The TLS key file {key} does not belong to the certificate file {cert}"
        ) from exc
    return ctx
