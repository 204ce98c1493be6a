"""SPAKE2 with explicit key confirmation, and the sealed key exchange after it.

The engineer is SPAKE2 side A, the customer side B.  Both derive, with
HKDF-SHA256 over the shared key and salted with the transcript hash, four
keys: one confirmation key and one sealing key per direction; under a label of
its own, the resumption key (never sent, never the password).  Each sealing
key seals exactly one message, so a fixed nonce is safe.

spake2 raises nothing for a wrong password; ``verify_confirmation`` is what
detects it.  This module does no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from spake2 import SPAKE2_A, SPAKE2_B

from zvkdiag._errors import ProtocolError, TamperingDetected

__all__ = ["PAKE_VERSION", "Pake", "Role"]

PAKE_VERSION: Final = 1
Role = Literal["engineer", "customer"]
_ID_A: Final = b"zvkdiag-v1-engineer"
_ID_B: Final = b"zvkdiag-v1-customer"
_NONCE: Final = bytes(12)
_MAX_PAKE_MSG: Final = 64
_MAX_SEALED_JSON: Final = 3072
RESUME_LABEL: Final = b"zvkdiag v1 resume"


@dataclass(frozen=True)
class _Keys:
    confirm_engineer: bytes
    confirm_customer: bytes
    seal_engineer: bytes
    seal_customer: bytes


class Pake:
    """One side of one attempt; create a new instance for every attempt."""

    def __init__(self, role: Role, session_id: str, password: str) -> None:
        self.role: Role = role
        self._session_id = session_id
        secret = f"{session_id}:{password}".encode()
        cls = SPAKE2_A if role == "engineer" else SPAKE2_B
        self._spake = cls(secret, idA=_ID_A, idB=_ID_B)
        self._outbound: bytes = bytes([PAKE_VERSION]) + self._spake.start()
        self._keys: _Keys | None = None
        self.transcript = b""
        self._resume_key: bytes | None = None

    def message(self) -> bytes:
        """The PAKE payload to send to the peer."""
        return self._outbound

    def receive(self, payload: bytes) -> None:
        """Take the peer's PAKE payload and derive the session keys."""
        if not payload or len(payload) > _MAX_PAKE_MSG or payload[0] != PAKE_VERSION:
            raise ProtocolError("the peer speaks another PAKE version or sent garbage")
        try:
            shared = self._spake.finish(payload[1:])
        except Exception as exc:  # spake2 raises plain ValueError/AssertionError variants
            raise ProtocolError("the peer's PAKE message is malformed") from exc
        mine, theirs = self._outbound, payload
        a, b = (mine, theirs) if self.role == "engineer" else (theirs, mine)
        self.transcript = hashlib.sha256(
            b"zvkdiag-v1|" + self._session_id.encode() + b"|" + a + b"|" + b
        ).digest()
        okm = HKDF(
            algorithm=hashes.SHA256(), length=128, salt=self.transcript, info=b"zvkdiag v1 keys"
        ).derive(shared)
        self._keys = _Keys(okm[0:32], okm[32:64], okm[64:96], okm[96:128])
        self._resume_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=self.transcript, info=RESUME_LABEL
        ).derive(shared)

    @property
    def resume_key(self) -> bytes:
        """The session's resumption key (``zvkdiag.resume.secret``), under its own label."""
        if self._resume_key is None:
            raise RuntimeError("receive() the peer's PAKE message first")
        return self._resume_key

    @property
    def keys(self) -> _Keys:
        if self._keys is None:
            raise RuntimeError("receive() the peer's PAKE message first")
        return self._keys

    def _confirm_key(self, role: Role) -> bytes:
        k = self.keys
        return k.confirm_engineer if role == "engineer" else k.confirm_customer

    def _seal_key(self, role: Role) -> bytes:
        k = self.keys
        return k.seal_engineer if role == "engineer" else k.seal_customer

    @property
    def _peer(self) -> Role:
        return "customer" if self.role == "engineer" else "engineer"

    def confirmation(self) -> bytes:
        """MAC proving to the peer that we derived the same key."""
        return hmac.new(
            self._confirm_key(self.role), b"confirm|" + self.role.encode(), "sha256"
        ).digest()

    def verify_confirmation(self, mac: bytes) -> bool:
        """True when the peer knew the password (and nobody sat in between)."""
        peer = self._peer
        expected = hmac.new(self._confirm_key(peer), b"confirm|" + peer.encode(), "sha256").digest()
        return hmac.compare_digest(expected, mac)

    def seal(self, obj: dict[str, Any]) -> bytes:
        data = json.dumps(obj, separators=(",", ":")).encode()
        if len(data) > _MAX_SEALED_JSON:
            raise ValueError("sealed message too large")
        return AESGCM(self._seal_key(self.role)).encrypt(_NONCE, data, self.transcript)

    def open(self, sealed: bytes) -> dict[str, Any]:
        """Decrypt the peer's sealed message; any change on the way raises TamperingDetected."""
        try:
            data = AESGCM(self._seal_key(self._peer)).decrypt(_NONCE, sealed, self.transcript)
        except (InvalidTag, ValueError) as exc:
            raise TamperingDetected(
                "The key exchange was altered on the way: the connection is not safe."
            ) from exc
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError("the sealed message is not JSON") from exc
        if not isinstance(obj, dict):
            raise ProtocolError("the sealed message is not a JSON object")
        return obj
