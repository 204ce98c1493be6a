"""The customer's SSH server: every hook says no unless a consent grant covers it.

asyncssh's ``SSHServer`` already refuses most things by default; we override
each hook anyway so the policy is visible in one place, and never set a
``process_factory`` (which would accept every session channel).  Sessions
accept only an ``exec`` request whose command is a zvkdiag v1 request: no
shell, no PTY, no subsystem, no forwarding of any kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncssh
from asyncssh.sftp import MIN_SFTP_VERSION

from zvkdiag.wire.ssh import CHANNEL_MAX_PACKET, CHANNEL_WINDOW, ENCRYPTION_ALGS

__all__ = [
    "CHANNEL_MAX_PACKET",
    "CHANNEL_WINDOW",
    "ENCRYPTION_ALGS",
    "DenyingServer",
    "RequestProcess",
]

Handler = Callable[[asyncssh.SSHServerProcess[bytes]], Awaitable[None]]
SFTPFactory = Callable[[asyncssh.SSHServerChannel[bytes]], asyncssh.SFTPServer]


class RequestProcess(asyncssh.SSHServerProcess[bytes]):
    """A session channel that only takes ``exec`` with a request document."""

    def __init__(self, handler: Handler, sftp: SFTPFactory | None = None) -> None:
        super().__init__(handler, sftp, MIN_SFTP_VERSION, False)  # type: ignore[arg-type]
        self._sftp = sftp

    def pty_requested(self, *args: object) -> bool:
        return False

    def shell_requested(self) -> bool:
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        # SFTP only while the customer has granted a file (the factory is None otherwise)
        return subsystem == "sftp" and self._sftp is not None

    def exec_requested(self, command: str) -> bool:
        return True  # the handler parses and refuses anything but a v1 request


class DenyingServer(asyncssh.SSHServer):
    """Public-key auth against the one pinned key; everything else refused."""

    def __init__(
        self,
        handler: Handler,
        on_lost: Callable[[Exception | None], None],
        sftp: Callable[[], SFTPFactory | None] = lambda: None,
    ) -> None:
        self._handler = handler
        self._on_lost = on_lost
        self._sftp = sftp

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(exc)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def session_requested(self) -> RequestProcess:
        return RequestProcess(self._handler, self._sftp())

    def connection_requested(self, *args: object) -> bool:
        return False

    def server_requested(self, *args: object) -> bool:
        return False

    def unix_connection_requested(self, *args: object) -> bool:
        return False

    def unix_server_requested(self, *args: object) -> bool:
        return False

    def tun_requested(self, *args: object) -> bool:
        return False

    def tap_requested(self, *args: object) -> bool:
        return False
