"""``zvkdiag ca``: the organisation's signing key, engineer certificates, revocation."""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

import asyncssh

from zvkdiag._errors import ZvkdiagError
from zvkdiag._osflags import O_BINARY

__all__ = ["CA_KEY", "REVOKED", "init_ca", "issue", "revoke"]

CA_KEY = "ca"
REVOKED = "revoked.txt"
MAX_DAYS = 400


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_BINARY, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def init_ca(folder: str | Path) -> Path:
    """Create ``folder/ca`` (private, 0600), ``ca.pub`` and an empty revocation list."""
    root = Path(folder)
    if (root / CA_KEY).exists():
        raise ZvkdiagError(f"{root / CA_KEY} exists already; refusing to overwrite a CA key.")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="zvkdiag organisation CA")
    _write_private(root / CA_KEY, key.export_private_key())
    (root / f"{CA_KEY}.pub").write_bytes(key.export_public_key())
    (root / REVOKED).touch()
    return root / f"{CA_KEY}.pub"


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "engineer"


def issue(
    ca: str | Path,
    name: str,
    *,
    days: int = 30,
    key: str | Path | None = None,
    out_dir: str | Path = ".",
) -> Path:
    """Sign an engineer's key; write ``<key>-cert.pub`` beside it (a new key pair if none)."""
    name = name.strip()
    if not name or len(name) > 80 or not name.isprintable():
        raise ZvkdiagError("An engineer's name is 1 to 80 printable characters.")
    if not 1 <= days <= MAX_DAYS:
        raise ZvkdiagError(f"A certificate is valid for 1 to {MAX_DAYS} days.")
    try:
        ca_key = asyncssh.read_private_key(str(Path(ca) / CA_KEY))
    except (OSError, asyncssh.KeyImportError) as exc:
        raise ZvkdiagError(f"No CA key in {ca}: run 'zvkdiag ca init {ca}' first ({exc}).") from exc
    if key is None:
        base = Path(out_dir) / _slug(name)
        user = asyncssh.generate_private_key("ssh-ed25519", comment=name)
        _write_private(base, user.export_private_key())
        base.with_name(base.name + ".pub").write_bytes(user.export_public_key())
        public: asyncssh.SSHKey = user
    else:
        pub_path = Path(key)
        public = asyncssh.read_public_key(str(pub_path))
        base = pub_path.with_suffix("") if pub_path.suffix == ".pub" else pub_path
    now = int(time.time())
    cert = ca_key.generate_user_certificate(
        public,
        name,
        serial=secrets.randbits(63),
        principals=[name],
        valid_after=now - 300,
        valid_before=now + days * 86400,
        permit_x11_forwarding=False,
        permit_agent_forwarding=False,
        permit_port_forwarding=False,
        permit_pty=False,
        permit_user_rc=False,
    )
    out = base.with_name(base.name + "-cert.pub")
    out.write_bytes(cert.export_certificate())
    return out


def revoke(ca: str | Path, key_or_cert: str | Path) -> str:
    """Add the key's SHA-256 fingerprint to the CA's revocation list; return it."""
    text = Path(key_or_cert).read_text()
    try:
        key = (
            asyncssh.import_certificate(text).key
            if "-cert-" in text.split()[0]
            else asyncssh.import_public_key(text)
        )
    except (asyncssh.KeyImportError, ValueError, IndexError) as exc:
        raise ZvkdiagError(f"{key_or_cert} is neither a public key nor a certificate.") from exc
    fingerprint = key.get_fingerprint("sha256")
    with (Path(ca) / REVOKED).open("a") as f:
        f.write(f"{fingerprint} {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
    return fingerprint
