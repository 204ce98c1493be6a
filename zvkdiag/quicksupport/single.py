"""One customer program per user: a second start brings the first window to the front.

The first start holds a per-user lock file for its lifetime (the OS drops it
when the process dies, so a crash leaves nothing stuck) and listens on a local
channel: a Unix socket on Linux, a named pipe on Windows
(``multiprocessing.connection``), never a network socket.  A second start finds
the lock taken, connects, proves it is the same user with the key the first
one wrote into the per-user folder, and asks for ``front``; then it exits.

::

    second start ── lock taken ──▶ Client(address, authkey) ── "front" ──▶ first
                                                          ◀── "ok" ── on_front()
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Final

from filelock import FileLock, Timeout

from zvkdiag._errors import ZvkdiagError
from zvkdiag._osflags import O_BINARY
from zvkdiag.quicksupport.paths import instance_address

__all__ = ["FirstInstance", "claim", "wake_first"]

log = logging.getLogger(__name__)

LOCK_NAME: Final = "instance.lock"
KEY_NAME: Final = "instance.key"
FRONT: Final = "front"
STOP: Final = "stop"
REPLY_WAIT: Final = 5.0
"""Seconds a request waits for the other side's answer."""
WAKE_TRIES: Final = 50
WAKE_PAUSE: Final = 0.2
"""A first start that holds the lock may not listen yet: try this often, this far apart."""


class FirstInstance:
    """The running program's side: holds the lock and answers ``front`` requests.

    Create it with ``claim``; call ``serve`` once the window exists and
    ``close`` when the program ends.
    """

    def __init__(self, folder: Path, lock: FileLock) -> None:
        self._lock = lock
        self._key = secrets.token_bytes(32)
        key_path = folder / KEY_NAME
        with contextlib.suppress(FileNotFoundError):
            key_path.unlink()
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_BINARY, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(self._key)
        self.address, family = instance_address(folder)
        if family == "AF_UNIX":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address)  # left by a crashed run; we hold the lock
        self._family = family
        self._listener = Listener(self.address, family, authkey=self._key)
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    def serve(self, on_front: Callable[[], None]) -> None:
        """Answer requests on a thread of their own; ``on_front`` must be thread-safe."""
        self._thread = threading.Thread(
            target=self._accept_loop, args=(on_front,), name="zvkdiag-instance", daemon=True
        )
        self._thread.start()

    def _accept_loop(self, on_front: Callable[[], None]) -> None:
        while True:
            try:
                conn = self._listener.accept()
            except (OSError, EOFError, AuthenticationError) as exc:
                if self._closing.is_set():
                    return
                log.info("refused a caller on the instance channel: %s", exc)
                continue
            with conn:
                if not _answer(conn, on_front):
                    return

    def close(self) -> None:
        """Stop answering and release the lock (idempotent)."""
        self._closing.set()
        if self._thread is not None and self._thread.is_alive():
            with (
                contextlib.suppress(OSError, EOFError),
                Client(self.address, self._family, authkey=self._key) as conn,
            ):
                conn.send(STOP)
            self._thread.join(REPLY_WAIT)
        self._thread = None
        with contextlib.suppress(OSError):
            self._listener.close()
        self._lock.release()


def _answer(conn: Connection, on_front: Callable[[], None]) -> bool:
    """Serve one request; False when told to stop."""
    try:
        if not conn.poll(REPLY_WAIT):
            return True
        request = conn.recv()
    except (OSError, EOFError):
        return True
    if request == STOP:
        return False
    if request == FRONT:
        on_front()
        with contextlib.suppress(OSError):
            conn.send("ok")
    return True


def claim(folder: Path) -> FirstInstance | None:
    """Become the user's one running program, or return None when another one is.

    Raises
    ------
    ZvkdiagError
        The per-user folder cannot be used (the program cannot guard itself).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / LOCK_NAME)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return None
        try:
            return FirstInstance(folder, lock)
        except BaseException:
            lock.release()
            raise
    except OSError as exc:
        raise ZvkdiagError(f"the per-user folder {folder} cannot be used: {exc}") from exc


def wake_first(folder: Path) -> bool:
    """Ask the running program to bring its window to the front; True once it said so."""
    address, family = instance_address(folder)
    for _ in range(WAKE_TRIES):
        try:
            key = (folder / KEY_NAME).read_bytes()
            with Client(address, family, authkey=key) as conn:
                conn.send(FRONT)
                if conn.poll(REPLY_WAIT) and conn.recv() == "ok":
                    return True
        except (OSError, EOFError, AuthenticationError) as exc:
            # not listening yet, or its key is not written yet
            log.info("the running program does not answer yet: %s", exc)
        time.sleep(WAKE_PAUSE)
    return False
