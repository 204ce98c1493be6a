"""The client's TLS context: it trusts what the operating system trusts.

TLS adds reachability, not trust: SPAKE2 and the pinned SSH keys still prove
who is at the other end. The client checks the relay's certificate against
the OS trust store (``truststore``), so a company's TLS-inspection CA that its
IT installed is accepted, and on Linux ``SSL_CERT_FILE`` is honoured.  The
relay's own context, reloaded on SIGHUP, is ``zvkdiag.relay.tls.TlsFiles``.
"""

from __future__ import annotations

import ssl

import truststore

__all__ = ["client_context"]


def client_context() -> ssl.SSLContext:
    ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx
