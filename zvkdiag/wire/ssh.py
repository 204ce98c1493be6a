"""The SSH parameters both ends agree on: ciphers and channel flow control.

Liveness is watched below SSH, by the resumable stream's heartbeat
(``zvkdiag.resume.transport``), so that a drop can be survived.

Shared by the customer's agent (SSH server) and the engineer's side (SSH
client), so neither side imports the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import asyncssh

__all__ = [
    "AEAD_ALGS",
    "CHANNEL_MAX_PACKET",
    "CHANNEL_WINDOW",
    "ENCRYPTION_ALGS",
    "MSG_IGNORE",
    "skip_ignore_packets",
]

ENCRYPTION_ALGS: Final = (
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
)
AEAD_ALGS: Final = frozenset(ENCRYPTION_ALGS)
"""Every cipher we allow authenticates each packet with its own nonce (``skip_ignore_packets``)."""
MSG_IGNORE: Final = 2  # RFC 4253, 11.2
EMPTY_STRING: Final = b"\0\0\0\0"  # SSH's string b"": what asyncssh's ignore packets carry
# Channel flow control, both ends.  asyncssh's defaults (2 MiB window, 32 KiB
# packets) cut a 256 KiB SFTP read into eight SSH packets, each with its own
# Python-level framing, encryption call and window bookkeeping; a download is
# CPU-bound in those per-packet costs (docs/benchmarks.md, "Probes and files").
CHANNEL_WINDOW: Final = 8 * 1024 * 1024
CHANNEL_MAX_PACKET: Final = 256 * 1024


def skip_ignore_packets(conn: asyncssh.SSHClientConnection | asyncssh.SSHServerConnection) -> None:
    """Stop the empty ``MSG_IGNORE`` asyncssh sends before every packet, where the cipher is AEAD.

    asyncssh inserts one before each packet once encryption is on: a defence
    for CBC ciphers, whose next IV an attacker could otherwise predict.  Every
    cipher in ``ENCRYPTION_ALGS`` is an AEAD (GCM, ChaCha20-Poly1305) with a
    fresh nonce per packet, where it protects nothing (OpenSSH sends none).
    Each costs an encryption, a write and ~44 bytes on the wire, and the relay
    forwards it: per typed key one on the way out (the frame) and one on the
    way back (its ack).  Only the ignore packets asyncssh adds are dropped; a
    connection whose ciphers are not AEAD is left as it is.
    """
    ciphers = {conn.get_extra_info("send_cipher"), conn.get_extra_info("recv_cipher")}
    if not ciphers <= AEAD_ALGS:
        return
    send = conn.send_packet

    def send_packet(pkttype: int, *args: bytes, handler: Any = None) -> None:
        if pkttype == MSG_IGNORE and args == (EMPTY_STRING,):
            return
        send(pkttype, *args, handler=handler)

    setattr(conn, "send_packet", send_packet)  # noqa: B010 (an instance's own, not the class's)
