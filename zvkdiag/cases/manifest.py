"""What ``manifest.json`` says about a case, as frozen values.

The manifest is rewritten atomically after every change, so it is always a
complete JSON document.  Its lists of tables, screenshots and files are an
index: the folder is the truth, and :meth:`zvkdiag.cases.Case.repair`
rebuilds the lists from it after a crash between writing a file and updating
the manifest.  Findings live only here.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from zvkdiag._errors import CaseStoreError

__all__ = ["SCHEMA_VERSION", "Finding", "Manifest", "Status", "load_manifest"]

SCHEMA_VERSION = 1


class Status(enum.StrEnum):
    """The verdict of one playbook step."""

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass(frozen=True)
class Finding:
    """One step's verdict, written by the playbook (text already pseudonymised)."""

    step: str
    status: Status
    text: str
    ts: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "step": self.step,
            "status": self.status.value,
            "text": self.text,
            "ts": self.ts.isoformat(),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Finding:
        return cls(
            str(raw["step"]),
            Status(raw["status"]),
            str(raw["text"]),
            datetime.fromisoformat(raw["ts"]),
        )


@dataclass(frozen=True)
class Manifest:
    """Everything about a case that is not a table, a screenshot or a file."""

    case_id: str
    reference: str
    engineer: str
    created: datetime
    closed: datetime | None = None
    platform: Mapping[str, object] = field(default_factory=dict)
    tables: tuple[str, ...] = ()
    screenshots: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    notebook: str | None = None
    findings: tuple[Finding, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def evolve(self, **changes: Any) -> Manifest:
        """A copy with ``changes`` applied (the manifest itself never mutates)."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["created"] = self.created.isoformat()
        raw["closed"] = self.closed.isoformat() if self.closed else None
        raw["platform"] = dict(self.platform)
        raw["tables"], raw["screenshots"], raw["files"] = (
            list(self.tables),
            list(self.screenshots),
            list(self.files),
        )
        raw["findings"] = [f.to_json() for f in self.findings]
        return raw

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Manifest:
        version = raw.get("schema_version")
        if version != SCHEMA_VERSION:
            raise CaseStoreError(f"Manifest schema version {version!r} is not supported.")
        closed = raw.get("closed")
        return cls(
            case_id=str(raw["case_id"]),
            reference=str(raw["reference"]),
            engineer=str(raw["engineer"]),
            created=datetime.fromisoformat(raw["created"]),
            closed=datetime.fromisoformat(closed) if closed else None,
            platform=dict(raw.get("platform") or {}),
            tables=tuple(raw.get("tables") or ()),
            screenshots=tuple(raw.get("screenshots") or ()),
            files=tuple(raw.get("files") or ()),
            notebook=raw.get("notebook"),
            findings=tuple(Finding.from_json(f) for f in raw.get("findings") or ()),
        )


def load_manifest(path: Path) -> Manifest:
    """Read and check one ``manifest.json``; anything wrong is a ``CaseStoreError``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Manifest.from_json(raw)
    except FileNotFoundError as exc:
        raise CaseStoreError(f"{path.parent.name}: the case has no manifest.json.") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CaseStoreError(f"{path}: the manifest cannot be read ({exc}).") from exc
