"""One case: a folder with a manifest, the mirrored audit trail, tables, screenshots, files.

Layout (``docs/cases.md`` has the details)::

    <case_id>/manifest.json          Manifest: who, when, platform, findings, index
    <case_id>/audit.jsonl            the customer's audit records, one per line, by seq
    <case_id>/tables/<name>.parquet  one file per probe; later runs append rows
    <case_id>/screenshots/<ts>.png   screenshots the customer allowed
    <case_id>/files/                 files the customer allowed to transfer
    <case_id>/notebook.ipynb         the executed playbook

Every write is atomic (:mod:`zvkdiag.cases.atomic`) and every string that
reaches a table, the audit copy, the manifest or the notebook goes through the
store's :class:`~zvkdiag.cases.pseudonym.Pseudonymiser` first.  Screenshots and
transferred files are stored as they are: they cannot be pseudonymised, which
is why they only exist with the customer's consent and expire with the case.

Several ``Case`` objects for one folder, in any threads or processes, may
write at once: every read-modify-write (manifest, audit copy, appended table)
holds the case's lock (a thread lock plus ``flock`` on ``<case>/.zvk-lock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import pandas as pd
from PIL import Image

from zvkdiag._errors import CaseStoreError
from zvkdiag.cases.atomic import (
    TEMP_PREFIX,
    atomic_write_bytes,
    atomic_write_json,
    atomic_writer,
    fsync_dir,
    is_temp_name,
)
from zvkdiag.cases.clock import Clock
from zvkdiag.cases.frames import (
    pseudonymise_frame,
    read_parquet,
    stack_frames,
    write_parquet,
)
from zvkdiag.cases.manifest import Finding, Manifest, Status, load_manifest
from zvkdiag.cases.names import (
    RESERVED_COLUMNS,
    check_file_name,
    check_table_name,
    new_case_id,
)
from zvkdiag.cases.pseudonym import Kind, Pseudonymiser

__all__ = ["AUDIT_CLEAR_KEYS", "Case", "create_case"]

AUDIT_CLEAR_KEYS = frozenset(
    {
        "seq",
        "ts",
        "prev",
        "hash",
        "kind",
        "scope",
        "decision",
        "bytes",
        "engineer",
        "engineer_verified",
    }
)
"""Audit fields kept verbatim: the chain structure, and who did what (accountability)."""

NOTEBOOK_KEEP_KEYS = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "id",
        "cell_type",
        "output_type",
        "nbformat",
        "nbformat_minor",
        "application/vnd.jupyter.widget-view+json",
    }
)
"""Notebook keys whose values are structure or images, not text worth scanning."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_MAX_LABEL = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CREATE_TRIES = 5
_LOCK_FILE = ".zvk-lock"


def _label(what: str, value: object) -> str:
    """Short single-line texts: references, engineer names, step names."""
    if not isinstance(value, str) or not value.strip():
        raise CaseStoreError(f"The {what} must be a non-empty text.")
    if len(value) > _MAX_LABEL or _CONTROL.search(value):
        raise CaseStoreError(f"The {what} must be one line of at most {_MAX_LABEL} characters.")
    return value.strip()


def create_case(
    root: Path, *, reference: str, engineer: str, pseudonymiser: Pseudonymiser, clock: Clock
) -> Case:
    """Create a case folder; it appears under its final name complete or not at all.

    The folder is built under a temporary name (manifest included) and then
    renamed, so a reader never sees a case without a manifest.
    """
    reference = pseudonymiser.text(_label("case reference", reference))
    engineer = _label("engineer's name", engineer)
    for _ in range(_CREATE_TRIES):
        now = clock.now()
        case_id = new_case_id(now)
        final = root / case_id
        if final.exists():
            continue
        tmp = root / f"{TEMP_PREFIX}{case_id}"
        tmp.mkdir(mode=0o700)
        for sub in ("tables", "screenshots", "files"):
            (tmp / sub).mkdir()
        manifest = Manifest(case_id=case_id, reference=reference, engineer=engineer, created=now)
        atomic_write_json(tmp / "manifest.json", manifest.to_json())
        try:
            os.rename(tmp, final)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            continue
        fsync_dir(root)
        return Case(final, pseudonymiser=pseudonymiser, clock=clock)
    raise CaseStoreError("Could not find a free case ID; is the clock or the disk misbehaving?")


class Case:
    """One case folder.  Get it from :meth:`zvkdiag.cases.CaseStore.new_case` or ``open``."""

    def __init__(self, path: Path, *, pseudonymiser: Pseudonymiser, clock: Clock) -> None:
        self._path = path
        self._pseudo = pseudonymiser
        self._clock = clock
        self._lock = _case_lock(path)
        self._case_id = load_manifest(path / "manifest.json").case_id

    def __repr__(self) -> str:
        return f"<Case {self._case_id}>"

    @property
    def case_id(self) -> str:
        return self._case_id

    @property
    def path(self) -> Path:
        return self._path

    @property
    def manifest(self) -> Manifest:
        """Read fresh each time: another ``Case`` object may have written since."""
        return load_manifest(self._path / "manifest.json")

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.manifest.findings

    @property
    def files_dir(self) -> Path:
        """Where transferred files go; write through :meth:`add_file` to keep it atomic."""
        folder = self._path / "files"
        folder.mkdir(exist_ok=True)
        return folder

    # -- tables ------------------------------------------------------------------

    def table_names(self) -> list[str]:
        return _listing(self._path / "tables", ".parquet")

    def table(self, name: str) -> pd.DataFrame:
        """The stored (pseudonymised) table, with its ``collected_at`` column."""
        path = self._path / "tables" / f"{check_table_name(name)}.parquet"
        if not path.exists():
            raise CaseStoreError(f"Case {self.case_id} has no table {name!r}.")
        return read_parquet(path)

    def add_table(
        self, name: str, df: pd.DataFrame, *, kinds: Mapping[str, Kind | str] | None = None
    ) -> Path:
        """Store probe results; a second call with the same name appends rows.

        Every row gets ``collected_at`` (UTC), so "before" and "after" runs of
        one probe stay apart in one file per probe, the layout a cluster engine
        reads as one table.  ``kinds`` declares what columns hold (see
        :class:`~zvkdiag.cases.pseudonym.Kind`); undeclared string columns get
        the free-text pass.  On any error nothing is written.
        """
        check_table_name(name)
        new = self._prepare(df, kinds)
        path = self._path / "tables" / f"{name}.parquet"
        with self._lock.hold():
            if path.exists():
                new = stack_frames([read_parquet(path), new])
            write_parquet(path, new)
            self._update(_same)
        return path

    def _prepare(self, df: pd.DataFrame, kinds: Mapping[str, Kind | str] | None) -> pd.DataFrame:
        if not isinstance(df, pd.DataFrame):
            raise CaseStoreError(f"A table must be a pandas DataFrame, not {type(df).__name__}.")
        if not (isinstance(df.index, pd.RangeIndex) and df.index.name is None):
            df = df.reset_index()  # a meaningful index is data: keep it as columns
        clash = sorted(RESERVED_COLUMNS & {str(c) for c in df.columns})
        if clash:
            raise CaseStoreError(f"Columns {clash} are added by the case store; rename them.")
        out = pseudonymise_frame(self._pseudo, df, kinds)
        out["collected_at"] = pd.Series(
            pd.Timestamp(self._clock.now()), index=out.index, dtype="datetime64[us, UTC]"
        )
        return out

    # -- screenshots and files -----------------------------------------------------

    def screenshots(self) -> list[Path]:
        folder = self._path / "screenshots"
        return [folder / f"{stem}.png" for stem in _listing(folder, ".png")]

    def add_screenshot(self, image: Image.Image | bytes) -> Path:
        """Store a PNG (a PIL image or PNG bytes) as ``screenshots/<UTC time>.png``."""
        data = _png_bytes(image)
        stem = self._clock.now().strftime("%Y%m%dT%H%M%S.%fZ")
        folder = self._path / "screenshots"
        with self._lock.hold():
            for n in range(1000):
                path = folder / (f"{stem}.png" if n == 0 else f"{stem}-{n}.png")
                try:
                    atomic_write_bytes(path, data, overwrite=False)
                except FileExistsError:
                    continue
                self._update(_same)
                return path
        raise CaseStoreError("Too many screenshots with the same timestamp.")

    def add_file(self, name: str, data: bytes | Path) -> Path:
        """Store a transferred file under ``files/<name>``; an existing name is refused."""
        path = self.files_dir / check_file_name(name)
        with self._lock.hold():
            try:
                with atomic_writer(path, overwrite=False) as fh:
                    if isinstance(data, bytes):
                        fh.write(data)
                    else:
                        with open(data, "rb") as src:
                            shutil.copyfileobj(src, fh, 1 << 20)
            except FileExistsError as exc:
                raise CaseStoreError(f"Case {self.case_id} already has a file {name!r}.") from exc
            self._update(_same)
        return path

    def add_notebook(self, source: Path | str) -> Path:
        """Store the executed playbook, its text outputs pseudonymised like the tables."""
        try:
            nb = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CaseStoreError(f"{source} cannot be read as a notebook: {exc}") from exc
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise CaseStoreError(f"{source} is not a Jupyter notebook (no list of cells).")
        clean = self._pseudo.json(nb, keep_keys=NOTEBOOK_KEEP_KEYS, key_kinds={})
        with self._lock.hold():
            path = atomic_write_json(self._path / "notebook.ipynb", clean)
            self._update(lambda m: m.evolve(notebook=path.name))
        return path

    # -- audit trail -----------------------------------------------------------------

    def audit(self) -> list[dict[str, Any]]:
        """The mirrored audit records, ordered by ``seq``."""
        path = self._path / "audit.jsonl"
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def add_audit(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Mirror records from the customer's log; a record already mirrored is skipped.

        Idempotent by ``seq``, so the session can send the whole log again
        after a reconnect.  A record whose ``seq`` is known but whose content
        differs means the customer's log changed: refused, nothing written.
        Returns the number of new records.
        """
        incoming = [self._audit_record(r) for r in records]
        with self._lock.hold():
            have = {r["seq"]: r for r in self.audit()}
            added = 0
            for rec in incoming:
                old = have.get(rec["seq"])
                if old is not None and old != rec:
                    raise CaseStoreError(
                        f"Audit record {rec['seq']} differs from the copy already in case "
                        f"{self.case_id}: the customer's audit log may have been altered."
                    )
                added += old is None
                have[rec["seq"]] = rec
            if added:
                lines = (
                    json.dumps(have[s], ensure_ascii=False, sort_keys=True) for s in sorted(have)
                )
                atomic_write_bytes(self._path / "audit.jsonl", ("\n".join(lines) + "\n").encode())
        return added

    def _audit_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(record, Mapping):
            raise CaseStoreError(f"An audit record must be a mapping, not {type(record).__name__}.")
        seq = record.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise CaseStoreError(f"Audit record without a valid 'seq': {dict(record)!r:.200}")
        if not isinstance(record.get("kind"), str) or not isinstance(record.get("ts"), str):
            raise CaseStoreError(f"Audit record {seq} needs text fields 'kind' and 'ts'.")
        clean = self._pseudo.json(dict(record), keep_keys=AUDIT_CLEAR_KEYS)
        reloaded: dict[str, Any] = json.loads(json.dumps(clean))  # as a reload gives it
        return reloaded

    # -- findings, platform, lifecycle -------------------------------------------------

    def finding(self, step: str, status: Status | str, text: str) -> Finding:
        """Record a playbook step's verdict: ``"ok"``, ``"warning"`` or ``"problem"``."""
        try:
            verdict = Status(status)
        except ValueError as exc:
            raise CaseStoreError(
                f"A finding's status is 'ok', 'warning' or 'problem', not {status!r}."
            ) from exc
        if not isinstance(text, str):
            raise CaseStoreError("A finding's text must be a string.")
        step = self._pseudo.text(_label("step name", step))
        item = Finding(step, verdict, self._pseudo.text(text), self._clock.now())
        with self._lock.hold():
            self._update(lambda m: m.evolve(findings=(*m.findings, item)))
        return item

    def set_platform(self, info: Mapping[str, object]) -> None:
        """Record the customer's platform (OS, versions, host); names are pseudonymised."""
        if not isinstance(info, Mapping):
            raise CaseStoreError("Platform information must be a mapping.")
        clean = self._pseudo.json(json.loads(json.dumps(dict(info), default=str)))
        assert isinstance(clean, dict)
        with self._lock.hold():
            self._update(lambda m: m.evolve(platform=clean))

    def learn(self, *, users: Iterable[str] = (), hosts: Iterable[str] = ()) -> None:
        """Tell the pseudonymiser the customer's names before any free text is stored."""
        self._pseudo.learn(Kind.USER, users)
        self._pseudo.learn(Kind.HOST, hosts)

    def close(self) -> None:
        """Mark the case closed (idempotent); retention counts from this moment."""
        with self._lock.hold():
            now = self._clock.now()
            self._update(lambda m: m if m.closed else m.evolve(closed=now))

    def repair(self) -> None:
        """Rebuild the manifest's index from the folder (after a crash between the two)."""
        with self._lock.hold():
            self._update(_same)

    def report(self, path: Path | str | None = None) -> Path:
        """Write the self-contained HTML report (default ``<case>/report.html``)."""
        from zvkdiag.cases.report import write_report

        return write_report(self, Path(path) if path is not None else self._path / "report.html")

    def _update(self, change: Callable[[Manifest], Manifest]) -> None:
        """Re-read, change and rewrite the manifest, refreshing its index from the folder."""
        with self._lock.hold():
            manifest = change(self.manifest).evolve(
                tables=tuple(self.table_names()),
                screenshots=tuple(p.name for p in self.screenshots()),
                files=tuple(_listing(self._path / "files", "")),
            )
            atomic_write_json(self._path / "manifest.json", manifest.to_json())


def _same(manifest: Manifest) -> Manifest:
    return manifest


class _CaseLock:
    """One per case folder and process: a thread lock, plus ``flock`` against other processes.

    ``flock`` belongs to an open file, so a second open in the same process
    would block on itself; the file is opened only at the outermost level.
    """

    def __init__(self, folder: Path) -> None:
        self._path = folder / _LOCK_FILE
        self._rlock = threading.RLock()
        self._depth = 0
        self._fh: IO[str] | None = None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._rlock:
            if self._depth == 0:
                self._fh = open(self._path, "a")  # noqa: SIM115 (closed in finally below)
                fcntl.flock(self._fh, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fh is not None:
                    self._fh.close()  # releases the flock
                    self._fh = None


_LOCKS: dict[Path, _CaseLock] = {}
_LOCKS_GUARD = threading.Lock()


def _case_lock(folder: Path) -> _CaseLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(folder.resolve(), _CaseLock(folder))


def _listing(folder: Path, suffix: str) -> list[str]:
    """Names (stems when ``suffix`` is given) of finished files in ``folder``."""
    if not folder.is_dir():
        return []
    names = [
        p.name
        for p in folder.iterdir()
        if p.is_file() and not is_temp_name(p.name) and p.name.endswith(suffix)
    ]
    return sorted(n[: len(n) - len(suffix)] if suffix else n for n in names)


def _png_bytes(image: Image.Image | bytes) -> bytes:
    if isinstance(image, Image.Image):
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return buf.getvalue()
    if not isinstance(image, bytes) or not image.startswith(_PNG_MAGIC):
        raise CaseStoreError("A screenshot must be a PIL image or PNG bytes.")
    try:
        with Image.open(io.BytesIO(image)) as img:
            img.verify()
    except Exception as exc:
        raise CaseStoreError(f"The screenshot is not a valid PNG: {exc}") from exc
    return image
