"""The case store: a folder of case folders, read as tables across all cases.

``CaseStore(root)`` is cheap to open and safe to open after a crash: it only
ever trusts entries under their final names (which atomic writes make
complete), skips hidden and temporary entries, and sweeps old leftovers.  The
Parquet layout ``<root>/<case_id>/tables/<name>.parquet`` is the same one a
cluster engine (Spark, Trino) reads when one machine is no longer enough.

Retention and erasure remove whole case folders: first renamed out of sight
(one atomic step), then deleted; a tombstone without personal data (case ID,
time, reason) goes to ``erasures.jsonl``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from zvkdiag._errors import CaseStoreError
from zvkdiag.cases.atomic import (
    TEMP_GRACE_SECONDS,
    TEMP_PREFIX,
    atomic_write_bytes,
    atomic_writer,
    fsync_dir,
    is_temp_name,
    sweep_temp,
)
from zvkdiag.cases.case import Case, create_case
from zvkdiag.cases.clock import Clock, SystemClock
from zvkdiag.cases.frames import read_parquet, stack_frames
from zvkdiag.cases.manifest import Manifest, Status, load_manifest
from zvkdiag.cases.names import check_case_id, check_table_name
from zvkdiag.cases.pseudonym import Pseudonymiser, load_or_create_key

__all__ = ["CaseStore", "RepairReport", "parse_age"]

log = logging.getLogger("zvkdiag.cases")

ERASURE_LOG = "erasures.jsonl"
ERASE_REASONS = frozenset({"request", "retention"})
_LOCK_FILE = ".zvk-lock"
_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([wdhms])\s*")
_AGE_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_STATUS_ORDER = [s.value for s in Status]


def parse_age(age: str | timedelta) -> timedelta:
    """``"90d"``, ``"12h"``, ``"2w"``, ``"30m"``, ``"45s"`` or a positive ``timedelta``."""
    if isinstance(age, timedelta):
        delta = age
    else:
        match = _AGE.fullmatch(age) if isinstance(age, str) else None
        if match is None:
            raise CaseStoreError(f"{age!r} is not an age; write e.g. '90d', '12h' or '30m'.")
        delta = timedelta(**{_AGE_UNITS[match.group(2)]: float(match.group(1))})
    if delta <= timedelta(0):
        raise CaseStoreError(f"An age must be positive, not {age!r}.")
    return delta


@dataclass(frozen=True)
class RepairReport:
    """What :meth:`CaseStore.repair` did: leftovers removed, indexes rebuilt, unreadable cases."""

    removed: tuple[Path, ...]
    reindexed: tuple[str, ...]
    broken: tuple[str, ...]


class CaseStore:
    """All cases under ``root``.

    Parameters
    ----------
    root
        The store folder, created (``0700``) if missing.  It holds the
        pseudonym key, so treat it like the personal data it protects.
    clock
        Where "now" comes from (case IDs, timestamps, retention); tests pass
        :class:`zvkdiag.testing.clock.FixedClock`.
    """

    def __init__(self, root: Path | str, *, clock: Clock | None = None) -> None:
        self._root = Path(root).expanduser().resolve()
        try:
            self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise CaseStoreError(f"The case store {self._root} cannot be created: {exc}") from exc
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._pseudo = Pseudonymiser(load_or_create_key(self._root))
        sweep_temp(self._root)  # only leftovers old enough to belong to no live writer

    def __repr__(self) -> str:
        return f"CaseStore({str(self._root)!r})"

    @property
    def root(self) -> Path:
        return self._root

    @property
    def pseudonymiser(self) -> Pseudonymiser:
        return self._pseudo

    # -- cases ---------------------------------------------------------------------

    def new_case(self, *, reference: str, engineer: str) -> Case:
        """Start a case; ``reference`` is the engineer's ticket or case number."""
        return create_case(
            self._root,
            reference=reference,
            engineer=engineer,
            pseudonymiser=self._pseudo,
            clock=self._clock,
        )

    def open(self, case_id: str) -> Case:
        path = self._root / check_case_id(case_id)
        if not path.is_dir():
            raise CaseStoreError(f"There is no case {case_id} in {self._root}.")
        return Case(path, pseudonymiser=self._pseudo, clock=self._clock)

    def case_ids(self) -> list[str]:
        """IDs of case folders under their final names, oldest first."""
        ids = []
        for entry in self._root.iterdir():
            if is_temp_name(entry.name) or not entry.is_dir():
                continue
            with contextlib.suppress(CaseStoreError):
                ids.append(check_case_id(entry.name))
        return sorted(ids)

    def _manifests(self) -> Iterator[Manifest]:
        for case_id in self.case_ids():
            try:
                yield load_manifest(self._root / case_id / "manifest.json")
            except CaseStoreError as exc:
                log.warning("skipping case %s: %s", case_id, exc)

    def cases(self) -> pd.DataFrame:
        """One row per readable case: who, when, how much, and the worst finding."""
        rows = [_case_row(m) for m in self._manifests()]
        df = pd.DataFrame(rows, columns=list(_case_row(None)) if not rows else None)
        for col in ("created", "closed"):
            df[col] = pd.to_datetime(df[col], utc=True).astype("datetime64[us, UTC]")
        df["worst"] = pd.Categorical(df["worst"], categories=_STATUS_ORDER, ordered=True)
        return df

    def findings(self) -> pd.DataFrame:
        """Every finding of every case, ``status`` ordered ok < warning < problem."""
        rows = [
            {
                "case_id": m.case_id,
                "step": f.step,
                "status": f.status.value,
                "text": f.text,
                "ts": f.ts,
            }
            for m in self._manifests()
            for f in m.findings
        ]
        df = pd.DataFrame(rows, columns=["case_id", "step", "status", "text", "ts"])
        df["status"] = pd.Categorical(df["status"], categories=_STATUS_ORDER, ordered=True)
        df["ts"] = pd.to_datetime(df["ts"], utc=True).astype("datetime64[us, UTC]")
        return df

    def audit(self) -> pd.DataFrame:
        """Every mirrored audit record: ``case_id, seq, ts, kind`` and the record as JSON."""
        rows = []
        for case_id in self.case_ids():
            path = self._root / case_id / "audit.jsonl"
            with contextlib.suppress(FileNotFoundError):
                for line in path.read_text(encoding="utf-8").splitlines():
                    rec = json.loads(line)
                    rows.append(
                        {
                            "case_id": case_id,
                            "seq": rec["seq"],
                            "ts": rec["ts"],
                            "kind": rec["kind"],
                            "record": line,
                        }
                    )
        df = pd.DataFrame(rows, columns=["case_id", "seq", "ts", "kind", "record"])
        df["seq"] = df["seq"].astype("Int64")
        return df

    # -- analysis -------------------------------------------------------------------

    def table_names(self) -> list[str]:
        return sorted(self._table_files())

    def _table_files(self) -> dict[str, list[tuple[str, Path]]]:
        found: dict[str, list[tuple[str, Path]]] = {}
        for case_id in self.case_ids():
            folder = self._root / case_id / "tables"
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.parquet")):
                if not is_temp_name(path.name):
                    found.setdefault(path.stem, []).append((case_id, path))
        return found

    def table(self, name: str) -> pd.DataFrame:
        """One probe's rows from every case, with ``case_id`` first and dtypes kept."""
        files = self._table_files().get(check_table_name(name))
        if not files:
            raise CaseStoreError(
                f"No case has a table {name!r}. Tables in this store: {self.table_names()}"
            )
        frames = []
        for case_id, path in files:
            try:
                df = read_parquet(path)
            except FileNotFoundError:  # erased while we read
                continue
            df.insert(0, "case_id", pd.Series(case_id, index=df.index, dtype="str"))
            frames.append(df)
        return stack_frames(frames)

    def sql(self, query: str) -> pd.DataFrame:
        """Run DuckDB SQL; every table name is a view over all cases' Parquet files.

        Views ``cases``, ``findings`` and ``audit`` hold what the methods of
        the same names return.  Timestamps come back in UTC.
        """
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            for name, files in self._table_files().items():
                # case IDs are checked by pattern and paths are quoted: no injection
                parts = [
                    f"SELECT '{cid}' AS case_id, * FROM read_parquet('{_sql_text(path)}')"  # noqa: S608
                    for cid, path in files
                ]
                con.execute(f'CREATE VIEW "{name}" AS ' + " UNION ALL BY NAME ".join(parts))
            for view, frame in (
                ("cases", self.cases()),
                ("findings", self.findings()),
                ("audit", self.audit()),
            ):
                con.register(view, frame)
            result: pd.DataFrame = con.execute(query).df()
            return result
        except duckdb.Error as exc:
            raise CaseStoreError(f"The query failed: {exc}") from exc
        finally:
            con.close()

    # -- retention, erasure, export ---------------------------------------------------------

    def purge(self, older_than: str | timedelta = "90d") -> list[str]:
        """Erase every case older than ``older_than``; return their IDs.

        Age counts from closing, or from creation for a case never closed (so
        an unclosed case cannot escape retention).
        """
        cutoff = self._clock.now() - parse_age(older_than)
        old = [m.case_id for m in self._manifests() if (m.closed or m.created) < cutoff]
        for case_id in old:
            self.erase(case_id, reason="retention")
        return old

    def erase(self, case_id: str, *, reason: str = "request") -> None:
        """Remove a case completely and log a tombstone (ID, time, reason: nothing personal)."""
        if reason not in ERASE_REASONS:
            raise CaseStoreError(f"An erasure reason is one of {sorted(ERASE_REASONS)}.")
        path = self._root / check_case_id(case_id)
        doomed = self._root / f"{TEMP_PREFIX}erase-{case_id}"
        try:
            os.rename(path, doomed)  # gone from every listing in one step
        except FileNotFoundError as exc:
            raise CaseStoreError(f"There is no case {case_id} to erase.") from exc
        fsync_dir(self._root)
        self._tombstone(
            {"case_id": case_id, "erased_at": self._clock.now().isoformat(), "reason": reason}
        )
        shutil.rmtree(doomed)

    def erasures(self) -> list[dict[str, Any]]:
        """The tombstones of erased cases, oldest first."""
        path = self._root / ERASURE_LOG
        if not path.exists():
            return []
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]

    def _tombstone(self, entry: dict[str, Any]) -> None:
        with self._locked():
            lines = [json.dumps(e, sort_keys=True) for e in [*self.erasures(), entry]]
            atomic_write_bytes(self._root / ERASURE_LOG, ("\n".join(lines) + "\n").encode())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise store-wide writes between processes sharing the store."""
        with open(self._root / _LOCK_FILE, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def export(self, case_id: str, dest: Path | str) -> Path:
        """Zip one case (as stored: pseudonymised tables, raw screenshots and files).

        ``dest`` is a ``.zip`` path or a folder (the zip is then named after
        the case).  The pseudonym key is never included.
        """
        case = self.open(case_id)
        target = Path(dest)
        if target.suffix.lower() != ".zip":
            target.mkdir(parents=True, exist_ok=True)
            target = target / f"{case_id}.zip"
        with atomic_writer(target) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(_case_files(case.path)):
                zf.write(file, f"{case_id}/{file.relative_to(case.path).as_posix()}")
        return target

    def repair(self, *, grace: float = TEMP_GRACE_SECONDS) -> RepairReport:
        """Remove leftovers older than ``grace`` seconds, re-index every readable case.

        ``grace=0`` removes every leftover: only do that when no other process
        is writing to this store.
        """
        removed = sweep_temp(self._root, grace=grace)
        reindexed, broken = [], []
        for case_id in self.case_ids():
            try:
                self.open(case_id).repair()
                reindexed.append(case_id)
            except CaseStoreError as exc:
                log.warning("case %s cannot be repaired: %s", case_id, exc)
                broken.append(case_id)
        return RepairReport(tuple(removed), tuple(reindexed), tuple(broken))


def _case_row(m: Manifest | None) -> dict[str, Any]:
    if m is None:  # the column names of an empty store
        return dict.fromkeys(
            [
                "case_id",
                "reference",
                "engineer",
                "created",
                "closed",
                "n_tables",
                "n_screenshots",
                "n_files",
                "n_findings",
                "worst",
                "tables",
            ]
        )
    worst = max((_STATUS_ORDER.index(f.status.value) for f in m.findings), default=None)
    row: dict[str, Any] = {
        "case_id": m.case_id,
        "reference": m.reference,
        "engineer": m.engineer,
        "created": m.created,
        "closed": m.closed,
        "n_tables": len(m.tables),
        "n_screenshots": len(m.screenshots),
        "n_files": len(m.files),
        "n_findings": len(m.findings),
        "worst": None if worst is None else _STATUS_ORDER[worst],
        "tables": ",".join(m.tables),
    }
    flat = {k: v for k, v in m.platform.items() if isinstance(v, str | int | float)}
    row.update({f"platform_{k}": v for k, v in flat.items()})
    return row


def _case_files(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not is_temp_name(d)]
        for name in filenames:
            if not is_temp_name(name):
                yield Path(dirpath) / name


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")
