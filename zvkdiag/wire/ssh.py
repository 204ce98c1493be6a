"""The SSH parameters both ends agree on: ciphers and channel flow control.

Liveness is watched below SSH, by the resumable stream's heartbeat
(``zvkdiag.resume.transport``), so that a drop can be survived.

Shared by the customer's agent (SSH server) and the engineer's side (SSH
client), so neither side imports the other.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CHANNEL_MAX_PACKET",
    "CHANNEL_WINDOW",
    "ENCRYPTION_ALGS",
]

ENCRYPTION_ALGS: Final = (
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
)
# Channel flow control, both ends.  asyncssh's defaults (2 MiB window, 32 KiB
# packets) cut a 256 KiB SFTP read into eight SSH packets, each with its own
# Python-level framing, encryption call and window bookkeeping; a download is
# CPU-bound in those per-packet costs (docs/benchmarks.md, "Probes and files").
CHANNEL_WINDOW: Final = 8 * 1024 * 1024
CHANNEL_MAX_PACKET: Final = 256 * 1024
