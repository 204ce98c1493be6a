"""Open the customer's audit log; a damaged one is set aside and a new chain begins.

A log whose chain does not verify, or that cannot be read at all, would
otherwise either stop the program or let new records chain onto a broken
one.  Instead it is renamed (``audit.jsonl.damaged-<UTC time>``, kept for
whoever wants to look at it) and a fresh log starts; the window says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from zvkdiag._errors import ZvkdiagError
from zvkdiag.consent.audit import AuditLog, verify

__all__ = ["OpenedAudit", "open_audit"]


@dataclass(frozen=True)
class OpenedAudit:
    """The log to write to, and where a damaged predecessor was moved (else None)."""

    log: AuditLog
    set_aside: Path | None = None
    why: str = ""


def open_audit(path: Path) -> OpenedAudit:
    """Check the log at ``path``, set it aside if it is damaged, and open it for appending.

    Raises
    ------
    ZvkdiagError
        Neither the log nor a fresh one can be written (the folder is read-only).
    """
    aside, why = None, ""
    if path.exists() or path.is_symlink():
        why = _damage(path)
        if why:
            aside = _set_aside(path)
    try:
        return OpenedAudit(AuditLog(path), aside, why)
    except OSError as exc:
        raise ZvkdiagError(f"the audit log {path} cannot be written: {exc}") from exc


def _damage(path: Path) -> str:
    """Why the log cannot be continued ("" when it can)."""
    try:
        result = verify(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    return "" if result.ok else str(result)


def _set_aside(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    try:
        os.replace(path, target)
    except OSError as exc:
        raise ZvkdiagError(f"the damaged audit log {path} cannot be set aside: {exc}") from exc
    return target
