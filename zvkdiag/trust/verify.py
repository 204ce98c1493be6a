"""Deciding whether the engineer's name is verified: pure checks of an OpenSSH user certificate.

With no CA configured (the demo) every engineer is "nicht verifiziert"; with a CA, an
engineer without a valid, unexpired, unrevoked certificate for the very key they
authenticate with is refused before the customer is ever asked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
from asyncssh.public_key import CERT_TYPE_USER, SSHOpenSSHCertificate

__all__ = ["NotVerified", "TrustConfig", "Verdict", "verify_engineer"]


class NotVerified(Exception):
    """Internal: the engineer's certificate does not pass; the message says why."""


@dataclass(frozen=True)
class Verdict:
    name: str
    verified: bool


@dataclass(frozen=True)
class TrustConfig:
    """The organisation's CA public keys and the fingerprints of revoked engineer keys."""

    ca_keys: tuple[asyncssh.SSHKey, ...]
    revoked: frozenset[str] = frozenset()
    clock: Callable[[], float] = field(default=time.time, compare=False)

    @classmethod
    def load(cls, ca_key: str | Path, revoked: str | Path | None = None) -> TrustConfig:
        keys = tuple(asyncssh.read_public_key_list(str(ca_key)))
        gone: frozenset[str] = frozenset()
        if revoked is not None and Path(revoked).exists():
            lines = Path(revoked).read_text().splitlines()
            gone = frozenset(
                line.split()[0] for line in lines if line.strip() and not line.startswith("#")
            )
        return cls(keys, gone)


def _fingerprint(key: asyncssh.SSHKey) -> str:
    return key.get_fingerprint("sha256")


def verify_engineer(
    name: str, ssh_key: str, certificate: str | None, trust: TrustConfig | None
) -> Verdict:
    """Return the name to show and whether it is verified; raise NotVerified to refuse."""
    if trust is None:
        return Verdict(name, False)
    if not certificate:
        raise NotVerified("no certificate from the organisation")
    try:
        cert = asyncssh.import_certificate(certificate)  # checks the CA's signature
        key = asyncssh.import_public_key(ssh_key)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise NotVerified(f"unreadable certificate: {exc}") from exc
    if not isinstance(cert, SSHOpenSSHCertificate) or cert.is_x509:
        raise NotVerified("not an OpenSSH certificate")
    if cert.key.public_data != key.public_data:
        raise NotVerified("the certificate is for another key")
    if not any(cert.signing_key.public_data == ca.public_data for ca in trust.ca_keys):
        raise NotVerified("signed by an unknown authority")
    now = trust.clock()
    if cert._cert_type != CERT_TYPE_USER:  # no public accessor
        raise NotVerified("not a user certificate")
    if not cert._valid_after <= now < cert._valid_before:
        raise NotVerified("expired or not yet valid")
    if _fingerprint(cert.key) in trust.revoked:
        raise NotVerified("revoked")
    if not cert.principals:
        raise NotVerified("names nobody")
    return Verdict(cert.principals[0], True)
