"""TLS on the relay's own port: load a certificate and key, reload them in place on SIGHUP.

Reloading loads the new pair into the *same* ``SSLContext`` the listener
uses: connections already established keep the certificate they were set up
with, new handshakes get the new one, nothing is dropped.  The files are
checked on a scratch context first, so a bad file at reload time leaves the
running certificate in place (and says which file is wrong).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from zvkdiag._errors import RelaySetupError

__all__ = ["TlsFiles"]


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise RelaySetupError(
            f"Cannot read the {what} file {path}: {exc.strerror or exc}.", path=path
        ) from exc


@dataclass(frozen=True)
class TlsFiles:
    """The certificate chain (PEM) and private key (PEM, unencrypted) of the relay."""

    cert: str
    key: str

    def check(self) -> None:
        """Raise ``RelaySetupError`` naming the file if the pair cannot be used."""
        try:
            if not x509.load_pem_x509_certificates(_read(self.cert, "certificate")):
                raise ValueError("no certificate in it")
        except ValueError as exc:
            raise RelaySetupError(
                f"The certificate file {self.cert} holds no PEM certificate ({exc}).",
                path=self.cert,
            ) from exc
        try:
            serialization.load_pem_private_key(_read(self.key, "key"), password=None)
        except (ValueError, TypeError) as exc:
            raise RelaySetupError(
                f"The key file {self.key} holds no unencrypted PEM private key ({exc}).",
                path=self.key,
            ) from exc
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.cert, self.key)
        except ssl.SSLError as exc:
            raise RelaySetupError(
                f"The key in {self.key} does not belong to the certificate in {self.cert} "
                f"({exc.reason}).",
                path=self.key,
            ) from exc

    def context(self) -> ssl.SSLContext:
        """A server context with the pair loaded (TLS 1.2 at least)."""
        self.check()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def reload(self, ctx: ssl.SSLContext) -> None:
        """Load the (changed) files into the listener's ``ctx``; the old pair stays on error."""
        self.check()
        ctx.load_cert_chain(self.cert, self.key)
