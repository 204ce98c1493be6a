"""The resumption key: derived from the session's PAKE, proven with fresh nonces, used once.

The key comes from the PAKE's shared secret by HKDF under its own label
(``wire.pake``), so it is bound to this session and never involves the
password.  A resumption runs::

    both sides   HELLO(nonce, received)      fresh 32-byte nonce each
    both sides   PROOF = HMAC(key, "proof" | role | HELLO(engineer) | HELLO(customer))

Whoever recorded earlier traffic holds neither the key nor the new nonces, so an
old PROOF never fits.  After a resumption both sides move on to the next key
(HKDF over both nonces), and the relay token changes with it: every key and
token is used for one resumption only.  The relay pairs the two sides by the
session ID and ``relay_token``, which reveals nothing about the key.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from typing import Final, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zvkdiag.resume.frames import NONCE, Hello, encode_hello

__all__ = ["ResumeSecret", "Role"]

_NEXT_LABEL: Final = b"zvkdiag v1 resume next"
Role = Literal["engineer", "customer"]


class ResumeSecret:
    """One side's current resumption key for one session."""

    def __init__(self, key: bytes, session_id: str, role: Role) -> None:
        if len(key) != 32:
            raise ValueError("a resumption key is 32 bytes")
        self._key = key
        self.session_id = session_id
        self.role: Role = role
        self.generation = 0

    def relay_token(self) -> str:
        """What the relay pairs a resumption by (with the ID); 32 URL-safe characters."""
        mac = hmac.new(self._key, b"relay-token|" + self.session_id.encode(), "sha256")
        return base64.urlsafe_b64encode(mac.digest()[:24]).decode()

    @staticmethod
    def hello(received: int) -> Hello:
        return Hello(secrets.token_bytes(NONCE), received)

    def _mac(self, role: Role, mine: Hello, theirs: Hello) -> bytes:
        engineer, customer = (mine, theirs) if self.role == "engineer" else (theirs, mine)
        msg = b"proof|" + role.encode() + encode_hello(engineer) + encode_hello(customer)
        return hmac.new(self._key, msg, "sha256").digest()

    def proof(self, mine: Hello, theirs: Hello) -> bytes:
        return self._mac(self.role, mine, theirs)

    def verify(self, mine: Hello, theirs: Hello, mac: bytes) -> bool:
        peer: Role = "customer" if self.role == "engineer" else "engineer"
        return hmac.compare_digest(self._mac(peer, mine, theirs), mac)

    def advance(self, mine: Hello, theirs: Hello) -> None:
        """Move to the next key after a resumption; the old one is gone."""
        engineer, customer = (mine, theirs) if self.role == "engineer" else (theirs, mine)
        self._key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=engineer.nonce + customer.nonce,
            info=_NEXT_LABEL,
        ).derive(self._key)
        self.generation += 1
