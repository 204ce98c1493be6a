"""The customer's audit log: JSON lines, each chained to the one before by SHA-256.

Every request, decision, message and transfer becomes one line.  Each record
carries ``prev``, the SHA-256 of the previous line's exact bytes (without its
newline; ``"0" * 64`` for the first), and ``hash``, the SHA-256 of its own
canonical form, so ``verify`` can name the record that was changed rather
than only the one after it.  The chain proves order and completeness against
casual editing; it is not a signature (whoever can write the file can also
rewrite the whole tail), which is why the engineer's case mirrors every record.

Each record is written with one ``os.write`` on an ``O_APPEND`` descriptor and
fsynced, so a crash leaves at most a torn last line, which ``verify`` reports.
Passwords are never written: ``record`` refuses field names that look like one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import platformdirs

from zvkdiag._osflags import O_BINARY
from zvkdiag.consent.model import (
    AgentEvent,
    Clipboard,
    CodeIssued,
    ConnectionInterrupted,
    ConnectionRestored,
    ConsentRequest,
    ConsentUI,
    ControlActive,
    Decision,
    EngineerMessage,
    FailedTry,
    NetworkProblem,
    PointerShown,
    RouteChosen,
    ScreenShared,
    SessionEnded,
    SessionExpiring,
    SessionStarted,
)

__all__ = [
    "GENESIS",
    "AuditLog",
    "AuditedUI",
    "VerifyResult",
    "audit_verify_main",
    "default_audit_path",
    "read_records",
    "verify",
]

GENESIS: Final = "0" * 64
"""``prev`` of the first record."""

APP_NAME: Final = "zvkdiag"
LOG_NAME: Final = "audit.jsonl"
_RESERVED: Final = frozenset({"seq", "ts", "kind", "prev", "hash"})
_SECRET_WORDS: Final = ("password", "passwort", "kennwort", "secret", "token")

Record = dict[str, Any]


def default_audit_path() -> Path:
    """Where the customer's log lives: the platform's per-user data directory.

    ``~/.local/share/zvkdiag/audit.jsonl`` on Linux,
    ``%LOCALAPPDATA%\\zvkdiag\\audit.jsonl`` on Windows,
    ``~/Library/Application Support/zvkdiag/audit.jsonl`` on macOS.
    """
    return platformdirs.user_data_path(APP_NAME, appauthor=False) / LOG_NAME


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(record: Mapping[str, Any]) -> bytes:
    body = {key: value for key, value in record.items() if key != "hash"}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _line(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def check_chain(records: Sequence[Mapping[str, Any]]) -> None:
    """Check that ``records`` (a slice of a log, as received) are intact and consecutive.

    Raises ValueError naming the first record that is altered or out of place.
    """
    for index, record in enumerate(records):
        if record.get("hash") != _digest(_canonical(record)):
            raise ValueError(f"record {record.get('seq')} was altered")
        if index and (
            record.get("prev") != _digest(_line(records[index - 1]))
            or record.get("seq") != records[index - 1].get("seq", 0) + 1
        ):
            raise ValueError(f"the chain breaks before record {record.get('seq')}")


class AuditLog:
    """Append-only, hash-chained JSON-lines log; safe to share between threads.

    Parameters
    ----------
    path
        The log file; created (with its folder, mode 0600) if missing.  An
        existing log is continued: the next record chains to its last line.
    on_record
        Called with every new record after it is on disk, e.g. to mirror it
        to the engineer's case.  Runs in the recording thread under the lock,
        so it must be quick and must not record itself.
    fsync
        Flush each record to the disk before returning (default).
    """

    def __init__(
        self,
        path: Path,
        *,
        on_record: Callable[[Record], None] | None = None,
        fsync: bool = True,
    ) -> None:
        self.path = Path(path)
        self._on_record = on_record
        self._fsync = fsync
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | O_BINARY, 0o600)
        self._seq, self._prev = self._tail()

    def _tail(self) -> tuple[int, str]:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            os.write(self._fd, b"\n")  # a torn last line stays as it is; verify names it
            data += b"\n"
        lines = data.split(b"\n")[:-1]
        return len(lines), _digest(lines[-1]) if lines else GENESIS

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest record (0 for an empty log)."""
        return self._seq

    def record(self, kind: str, **fields: Any) -> Record:
        """Append one record and return it as written (with seq, ts, prev and hash).

        Raises
        ------
        ValueError
            A field is reserved, or its name suggests a secret (passwords
            never go into the log), or a value is not JSON-serialisable.
        """
        _check_fields(fields)
        with self._lock:
            record: Record = {"seq": self._seq + 1, "ts": _now(), "kind": kind, **fields}
            record["prev"] = self._prev
            record["hash"] = _digest(_canonical(record))
            line = _line(record)
            os.write(self._fd, line + b"\n")
            if self._fsync:
                os.fsync(self._fd)
            self._seq, self._prev = self._seq + 1, _digest(line)
            if self._on_record is not None:
                self._on_record(record)
            return record

    def close(self) -> None:
        """Close the file; later ``record`` calls fail."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _check_fields(fields: Mapping[str, Any]) -> None:
    for name in fields:
        if name in _RESERVED:
            raise ValueError(f"audit field {name!r} is set by the log itself")
        if any(word in name.lower() for word in _SECRET_WORDS):
            raise ValueError(f"audit field {name!r} looks like a secret; secrets are never logged")
    try:
        json.dumps(dict(fields), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit fields must be plain JSON values: {exc}") from exc


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking a log.

    ``broken_at`` is the 1-based number of the first broken record (None if
    intact); ``reason`` says why in English, ``code`` names the reason for
    the catalog (``audit.reason.<code>``).
    """

    ok: bool
    records: int
    broken_at: int | None = None
    reason: str = ""
    code: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"OK: {self.records} records"
        return f"BROKEN at record {self.broken_at}: {self.reason}"


def verify(path: Path) -> VerifyResult:
    """Check every record's own hash, its number and its link to the one before.

    Record numbers are 1-based and equal the line number.  ``records``
    counts the lines read, including a broken one.  An empty file is a valid
    log with no records.
    """
    prev, count = GENESIS, 0
    for count, raw in enumerate(_lines(Path(path)), start=1):
        code = _check(raw, count, prev)
        if code:
            return VerifyResult(False, count, count, _REASONS[code], code)
        prev = _digest(raw)
    return VerifyResult(True, count)


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        for raw in file:
            yield raw[:-1] if raw.endswith(b"\n") else raw


_REASONS: Final = {
    "json": "not a complete JSON record (damaged or cut off)",
    "object": "not a JSON object",
    "seq": "wrong sequence number (a record is missing or was inserted)",
    "link": "does not link to the record before it (that one was changed or removed)",
    "hash": "its content was changed after it was written",
}
"""Why a record is broken, by code; the UI shows ``audit.reason.<code>`` from the catalog."""


def _check(raw: bytes, seq: int, prev: str) -> str:
    try:
        record = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "json"
    if not isinstance(record, dict):
        return "object"
    if record.get("seq") != seq:
        return "seq"
    if record.get("prev") != prev:
        return "link"
    if record.get("hash") != _digest(_canonical(record)):
        return "hash"
    return ""


def read_records(path: Path) -> list[Record]:
    """All records that parse as JSON objects, for display; damaged lines are skipped."""
    records: list[Record] = []
    for raw in _lines(Path(path)):
        try:
            record = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def audit_verify_main(argv: Sequence[str] | None = None) -> int:
    """``zvkdiag audit verify FILE``: print the verdict; exit 0 if intact, 1 if not, 2 on errors."""
    parser = argparse.ArgumentParser(
        prog="zvkdiag audit verify", description="Check an audit log's hash chain."
    )
    parser.add_argument("file", type=Path, nargs="?", default=None, help="default: the user's log")
    args = parser.parse_args(argv)
    path: Path = args.file or default_audit_path()
    try:
        result = verify(path)
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(result)
    return 0 if result.ok else 1


class AuditedUI:
    """Wrap any ConsentUI so every question, answer and event is logged.

    The agent puts this around the Tk or console UI; the UI itself never
    writes the log, so nothing is recorded twice whichever UI runs.  New
    passwords are recorded only as "a new code was issued", never the code.
    """

    def __init__(self, inner: ConsentUI, log: AuditLog) -> None:
        self.inner = inner
        self.log = log
        self.clipboard: Clipboard | None = getattr(inner, "clipboard", None)

    async def ask(
        self,
        request: ConsentRequest,
        *,
        timeout: float = 60.0,
    ) -> Decision:
        """Record the request, ask the wrapped UI, record its decision."""
        self.log.record("request", **request_fields(request))
        decision = await self.inner.ask(request, timeout=timeout)
        self.log.record("decision", scope=request.scope.value, decision=decision.value)
        return decision

    def show(self, event: AgentEvent) -> None:
        """Record the event (without secrets), then pass it on."""
        kind, fields = event_fields(event)
        self.log.record(kind, **fields)
        self.inner.show(event)


def request_fields(request: ConsentRequest) -> Record:
    """The audit fields of a consent request (its detail as plain JSON)."""
    return {
        "scope": request.scope.value,
        "engineer": request.engineer,
        "engineer_verified": request.engineer_verified,
        "detail": json.loads(json.dumps(dict(request.detail), default=str)),
    }


def event_fields(event: AgentEvent) -> tuple[str, Record]:
    """The audit kind and fields of an agent event; a CodeIssued keeps only its reason."""
    match event:
        case CodeIssued(reason=reason):
            return "code.issued", {"reason": reason}
        case FailedTry(tries_left=tries_left):
            return "failed_try", {"tries_left": tries_left}
        case SessionStarted(engineer=engineer, engineer_verified=verified):
            return "session.start", {"engineer": engineer, "engineer_verified": verified}
        case SessionEnded(reason=reason):
            return "session.end", {"reason": reason}
        case EngineerMessage(text=said):
            return "message", {"text": said}
        case ScreenShared(active=active):
            return "screen.shared", {"active": active}
        case ControlActive(active=active, paused=paused):
            return "screen.control.state", {"active": active, "paused": paused}
        case PointerShown(position=position):
            return "screen.pointer", {"shown": position is not None}
        case SessionExpiring(minutes_left=minutes):
            return "session.expiring", {"minutes_left": minutes}
        case RouteChosen(carrier=carrier, relay=relay, proxy=proxy):
            return "route", {"carrier": carrier, "relay": relay, "proxy": proxy}
        case ConnectionInterrupted(grace=grace):
            return "connection.interrupted", {"grace": grace}
        case ConnectionRestored():
            return "connection.restored", {}
        case NetworkProblem(kind=kind, relay=relay, proxy=proxy, detail=detail):
            return "network.problem", {
                "kind": kind,
                "relay": relay,
                "proxy": proxy,
                "detail": detail,
            }
