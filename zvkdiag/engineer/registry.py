"""The sessions this Python process holds open: they belong to the kernel, not to a widget.

A notebook loses handles easily (a re-run cell rebinds ``s``, a widget is
replaced), so every open session is listed here until it ends, whoever ended
it.  ``sessions()`` shows them; ``connect`` refuses a second session to the
same customer and names the open one instead; when the interpreter exits
(kernel shutdown or restart) every open session is closed, so the customer's
indicator goes away and their password changes at once.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from zvkdiag.engineer.session import Session

__all__ = ["close_all", "find", "register", "sessions", "unregister"]

log = logging.getLogger("zvkdiag.engineer")

CLOSE_AT_EXIT_TIMEOUT: Final = 5.0  # per session; the kernel's own shutdown waits for us

_lock = threading.Lock()
_open: dict[int, Session] = {}
_hooked = False


def register(session: Session) -> None:
    """Keep ``session`` listed until it is closed or lost."""
    global _hooked
    with _lock:
        _open[id(session)] = session
        if not _hooked:
            atexit.register(close_all)
            _hooked = True


def unregister(session: Session) -> None:
    with _lock:
        _open.pop(id(session), None)


def sessions() -> list[Session]:
    """The open sessions of this process, oldest first."""
    with _lock:
        listed = list(_open.values())
    return [s for s in listed if not s.closed]


def find(session_id: str) -> Session | None:
    """The open session to this customer ID (normalised), if there is one."""
    return next((s for s in sessions() if s.session_id == session_id), None)


def close_all() -> None:
    """Close every open session (registered with ``atexit``; safe to call any time)."""
    for session in sessions():
        try:
            session.close(timeout=CLOSE_AT_EXIT_TIMEOUT)
        except Exception:  # one broken session must not keep the others open
            log.exception("closing %r at exit failed", session)
