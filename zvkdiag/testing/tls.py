"""A throwaway certificate authority for tests of the wss carrier (``trustme``).

The client trusts what ``SSL_CERT_FILE`` names (truststore honours it on
Linux), so a test points it at ``ca_file`` and the relay serves ``server_context``.
"""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import trustme

__all__ = ["ThrowawayCA"]


class ThrowawayCA:
    """A CA in ``folder`` with one leaf for ``names`` (DNS names or IP addresses)."""

    def __init__(self, folder: Path, *names: str, expired: bool = False) -> None:
        self.ca = trustme.CA()
        self.folder = folder
        now = dt.datetime.now(dt.UTC)
        span = (
            (now - dt.timedelta(days=10), now - dt.timedelta(days=1)) if expired else (None, None)
        )
        self.leaf = self.ca.issue_cert(*names, not_before=span[0], not_after=span[1])
        self.ca_file = folder / "ca.pem"
        self.cert_file = folder / "relay-cert.pem"
        self.key_file = folder / "relay-key.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.leaf.private_key_pem.write_to_path(str(self.key_file))
        with open(self.cert_file, "wb") as f:
            for blob in self.leaf.cert_chain_pems:
                f.write(blob.bytes())

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx
