"""What the troubleshooting playbooks in ``notebooks/`` share.

A playbook is a notebook: a ``parameters`` cell (papermill's convention), then
steps that each end in a finding (ok / warning / problem) which
``case.report()`` collects.  The notebooks stay readable because the small
pieces of logic they all need live here, tested once:

* :class:`Playbook` records findings into the case *and* shows them in the
  notebook, prefixing each step with the playbook's name (``disk.system_drive``)
  so that findings of many cases can be grouped by playbook and step later;
* :func:`grade` turns a measured value and two thresholds into a verdict;
* :func:`check_versions` compares the ``software`` probe with required versions;
* :func:`run_playbook` executes a playbook headless with papermill and files
  the executed notebook into its case;
* :func:`synthetic_store` writes a store of made-up cases for the second-level
  analysis notebook, its tests and demos.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pandas as pd

from zvkdiag._errors import CaseStoreError, ZvkdiagError
from zvkdiag.cases import Case, CaseStore, Finding, Status

__all__ = [
    "Playbook",
    "check_versions",
    "compare_versions",
    "grade",
    "human_bytes",
    "open_case",
    "run_playbook",
    "synthetic_store",
    "worst",
]

STATUS_ORDER: Final = ("ok", "warning", "problem")
DEFAULT_KERNEL: Final = "python3"
CELL_TIMEOUT: Final = 120.0  # seconds per cell: a probe waits up to 60 s for the customer
_MARK: Final = {"ok": "✅ ok", "warning": "⚠️ warning", "problem": "❌ problem"}


# -- verdicts -----------------------------------------------------------------------


def grade(value: float | None, *, warn: float, problem: float, higher_is_worse: bool = True) -> str:
    """The verdict for ``value`` against two thresholds; ``None``/NaN is a ``"warning"``.

    A value that could not be measured is not "ok": the engineer should look
    at it, but it is not proof of a problem either.  With
    ``higher_is_worse=False`` (free space, say) the thresholds count downwards.
    """
    if value is None or pd.isna(value):
        return "warning"
    if (warn > problem) if higher_is_worse else (warn < problem):
        raise ValueError(f"thresholds out of order: warn={warn}, problem={problem}")
    sign = 1.0 if higher_is_worse else -1.0
    if sign * float(value) >= sign * problem:
        return "problem"
    if sign * float(value) >= sign * warn:
        return "warning"
    return "ok"


def worst(statuses: Iterable[str]) -> str:
    """The most serious of several verdicts (``"ok"`` for none)."""
    ranks = [STATUS_ORDER.index(str(Status(s))) for s in statuses]
    return STATUS_ORDER[max(ranks, default=0)]


def human_bytes(n: float | None) -> str:
    """``1.5 GB``-style text (powers of 1024, as Windows Explorer counts)."""
    if n is None or pd.isna(n):
        return "unknown"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# -- versions -----------------------------------------------------------------------

_VERSION_PART = re.compile(r"\d+|[a-z]+")


def _version_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Comparable parts: numbers numerically, letters alphabetically, numbers first.

    Covers the forms seen on customers' PCs: ``24.002.20933``, ``8.0.3810.9``,
    ``3.2.4-1``, ``1:2.39-8`` (a Debian epoch, dropped), ``11.0.21+9``.
    """
    body = text.strip().lower()
    if re.match(r"^\d+:", body):
        body = body.split(":", 1)[1]
    parts: list[tuple[int, int | str]] = []
    for part in _VERSION_PART.findall(body):
        parts.append((0, int(part)) if part.isdigit() else (1, part))
    while parts and parts[-1] == (0, 0):  # 3.2 == 3.2.0
        parts.pop()
    return tuple(parts)


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b``."""
    ka, kb = _version_key(a), _version_key(b)
    return (ka > kb) - (ka < kb)


def check_versions(software: pd.DataFrame, required: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Compare installed programs with what the fund's software needs.

    Parameters
    ----------
    software
        The ``software`` probe's DataFrame (``name``, ``version``).
    required
        One mapping per requirement: ``name`` (shown), ``pattern`` (a
        case-insensitive regular expression on the installed name; defaults
        to ``name`` taken literally), ``min_version`` and optionally
        ``max_version`` (newest version known to work).

    Returns
    -------
    pandas.DataFrame
        ``requirement, installed_name, installed_version, min_version,
        max_version, status, text``: a missing program or one older than
        ``min_version`` is a problem, one newer than ``max_version`` a warning.
        Of several matching installations the newest counts.
    """
    rows = [_check_one(software, dict(req)) for req in required]
    columns = ["requirement", "installed_name", "installed_version", "min_version"]
    return pd.DataFrame(rows, columns=[*columns, "max_version", "status", "text"])


def _check_one(software: pd.DataFrame, req: dict[str, Any]) -> dict[str, Any]:
    name = str(req.get("name") or "")
    if not name:
        raise ValueError(f"a requirement needs a 'name': {req!r}")
    try:
        pattern = re.compile(str(req.get("pattern") or re.escape(name)), re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"requirement {name!r}: bad pattern: {exc}") from exc
    low, high = str(req.get("min_version") or ""), str(req.get("max_version") or "")
    names = software["name"].astype("string").fillna("")
    hits = software[names.map(lambda n: bool(pattern.search(n)))]
    row: dict[str, Any] = {"requirement": name, "min_version": low or None}
    row |= {"max_version": high or None, "installed_name": None, "installed_version": None}
    if hits.empty:
        return row | {"status": "problem", "text": f"{name} is not installed"}
    versions = hits["version"].astype("string").fillna("")
    best = max(range(len(hits)), key=lambda i: _version_key(str(versions.iloc[i])))
    found, version = str(hits["name"].iloc[best]), str(versions.iloc[best])
    row |= {"installed_name": found, "installed_version": version}
    if low and compare_versions(version, low) < 0:
        return row | {"status": "problem", "text": f"{found} {version} is older than {low}"}
    if high and compare_versions(version, high) > 0:
        text = f"{found} {version} is newer than {high}, the newest version known to work"
        return row | {"status": "warning", "text": text}
    return row | {"status": "ok", "text": f"{found} {version} fits"}


# -- recording findings ---------------------------------------------------------------


def open_case(case_root: str | Path, *, reference: str, engineer: str, case_id: str = "") -> Case:
    """The case a playbook writes into: ``case_id`` if given, else a new one."""
    store = CaseStore(case_root)
    if case_id:
        return store.open(case_id)
    return store.new_case(reference=reference, engineer=engineer)


def _show_markdown(text: str) -> None:
    try:
        from IPython.display import Markdown, display
    except ImportError:  # outside Jupyter: plain text is fine
        print(text)
        return
    display(Markdown(text))  # type: ignore[no-untyped-call]


class Playbook:
    """Findings of one playbook run: written to the case, shown in the notebook.

    Parameters
    ----------
    case
        Where findings go; ``case.report()`` shows them.
    name
        Prefix of every step (``"disk"`` gives ``disk.system_drive``), so that
        the second-level analysis can group findings by playbook and step.
    show
        How a finding is displayed; Markdown in Jupyter, ``print`` elsewhere.
    """

    def __init__(self, case: Case, name: str, *, show: Callable[[str], None] | None = None) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise CaseStoreError(f"A playbook name is lower-case letters and digits, not {name!r}.")
        self.case = case
        self.name = name
        self._show = show if show is not None else _show_markdown
        self.findings: list[Finding] = []

    def __repr__(self) -> str:
        return f"<Playbook {self.name}: {len(self.findings)} findings, worst {self.worst}>"

    def finding(self, step: str, status: str, text: str) -> Finding:
        """Record one step's verdict (``ok``/``warning``/``problem``) and show it."""
        item = self.case.finding(f"{self.name}.{step}", status, text)
        self.findings.append(item)
        self._show(f"**{item.step}**: {_MARK[item.status.value]} — {item.text}")
        return item

    def table(self, results: Mapping[str, pd.DataFrame], probe: str, *, step: str) -> pd.DataFrame:
        """One probe's DataFrame from ``session.collect``; a refused probe is a warning.

        The customer may decline a single probe; the step then records that
        and carries on with an empty frame instead of stopping the playbook.
        """
        if probe in results:
            df = results[probe]
            for note in df.attrs.get("warnings", []):
                self._show(f"*{probe}: {note}*")
            return df
        self.finding(step, "warning", f"the customer did not send {probe!r}; step skipped")
        return pd.DataFrame()

    @property
    def worst(self) -> str:
        return worst(f.status.value for f in self.findings)

    def summary(self) -> pd.DataFrame:
        """The run's findings as a table, in the order they were recorded."""
        rows = [{"step": f.step, "status": f.status.value, "text": f.text} for f in self.findings]
        return pd.DataFrame(rows, columns=["step", "status", "text"])


# -- running a playbook headless ----------------------------------------------------------


def run_playbook(
    notebook: str | Path,
    output: str | Path,
    *,
    parameters: Mapping[str, Any],
    case: Case | None = None,
    kernel_name: str = DEFAULT_KERNEL,
    cwd: str | Path | None = None,
    cell_timeout: float = CELL_TIMEOUT,
) -> Path:
    """Execute a playbook with papermill; with ``case``, file the result into it.

    Parameters
    ----------
    notebook, output
        The playbook and where the executed copy goes.
    parameters
        Values for the ``parameters`` cell (``session_id``, ``password``, ...).
    case
        If given, ``case_root`` and ``case_id`` are passed to the playbook so it
        writes into this case, and afterwards the executed notebook is stored
        in the case (pseudonymised) and the report rewritten.
    kernel_name
        A Jupyter kernel whose Python has zvkdiag installed.

    Raises
    ------
    ZvkdiagError
        A cell raised; the message names the cell and the error, and the
        executed notebook at ``output`` keeps the traceback.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    params = dict(parameters)
    if case is not None:
        params |= {"case_root": str(case.path.parent), "case_id": case.case_id}
    out = Path(output)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(out),
            parameters=params,
            kernel_name=kernel_name,
            cwd=str(cwd) if cwd is not None else None,
            progress_bar=False,
            request_save_on_cell_execute=False,
            execution_timeout=cell_timeout,
        )
    except PapermillExecutionError as exc:
        raise ZvkdiagError(
            f"Playbook {Path(notebook).name} failed in cell {exc.exec_count}: "
            f"{exc.ename}: {exc.evalue} (the executed notebook is at {out})"
        ) from exc
    if case is not None:
        case.add_notebook(out)
        case.report()
    return out


# -- synthetic cases for second-level analysis ------------------------------------------------

_OS_BUILDS: Final = (  # (name, version, build, weight, extra risk of a portal problem)
    ("Windows 10 Pro", "22H2", "19045", 0.35, 0.25),
    ("Windows 11 Pro", "22H2", "22621", 0.15, 0.05),
    ("Windows 11 Pro", "23H2", "22631", 0.30, 0.0),
    ("Windows 11 Pro", "24H2", "26100", 0.20, 0.10),
)
_TRANSFER: Final = (("3.1.0", 0.45), ("3.2.4", 0.1), ("3.3.1", 0.05))  # version, problem risk
_READER: Final = ("23.008.20470", "24.002.20933", "24.004.20220")
_ENGINEERS: Final = ("Erika Muster", "Jonas Beispiel", "Aylin Probe")
SYNTHETIC_TRANSFER_NAME: Final = "ZVK Datenübertragung"


class _SteppingClock:
    """A clock the generator moves, so made-up cases spread over weeks."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        return self.at


def synthetic_store(
    root: str | Path, *, cases: int = 40, seed: int = 7, end: datetime | None = None
) -> CaseStore:
    """Write ``cases`` made-up, plausible cases of the last 90 days into a store.

    The data carries a signal to find (an old transfer version and Windows 10
    go with portal problems, a nearly full drive with disk problems), host
    and user names that the store pseudonymises like real ones, and findings
    named like the playbooks' steps.  Deterministic for a given ``seed``
    (case IDs excepted: they carry random letters).
    """
    rng = random.Random(seed)
    end = end if end is not None else datetime.now(UTC)
    start = end - timedelta(days=88)  # inside "the last 90 days" however long this takes
    clock = _SteppingClock(start)
    store = CaseStore(root, clock=clock)
    for n in range(cases):
        clock.at = start + timedelta(days=88 * n / max(cases, 1))
        _synthetic_case(store, rng, n)
        clock.at += timedelta(minutes=rng.randint(5, 40))
    return CaseStore(root)


def _synthetic_case(store: CaseStore, rng: random.Random, n: int) -> None:
    name, release, build, _, os_risk = rng.choices(_OS_BUILDS, [b[3] for b in _OS_BUILDS])[0]
    transfer, transfer_risk = rng.choice(_TRANSFER)
    host = f"PC-{rng.choice(['BUCH', 'LOHN', 'PERS', 'EMPF'])}{rng.randint(1, 99):02d}"
    user = f"{rng.choice(['anna', 'ben', 'clara', 'deniz', 'emil'])}.{rng.randint(1, 999)}"
    case = store.new_case(reference=f"ZVK-2026-{n + 1:04d}", engineer=rng.choice(_ENGINEERS))
    case.set_platform({"platform": "windows", "os": f"{name} {release}", "hostname": host})
    case.add_table("os", _os_frame(name, release, build, host))
    case.add_table("software", _software_frame(rng, transfer))
    case.add_table("users_sessions", pd.DataFrame({"user": [user], "host": [host]}))
    percent = min(99.5, max(20.0, rng.gauss(72, 18)))
    total = rng.choice([256, 512, 1024]) * 1024**3
    case.add_table("storage", _storage_frame(total, percent))
    portal_risk = min(0.95, 0.1 + os_risk + transfer_risk)
    portal = "problem" if rng.random() < portal_risk else rng.choice(["ok", "ok", "warning"])
    case.finding("portal.tcp", portal, f"transfer software {transfer} on build {build}")
    disk = grade(percent, warn=85, problem=95)
    case.finding("disk.system_drive", disk, f"C:\\ is {percent:.0f}% full")
    memory = rng.choice([8, 8, 16, 16, 32])
    slow = "problem" if memory == 8 and rng.random() < 0.5 else rng.choice(["ok", "warning"])
    case.finding("slow.load", slow, f"{memory} GB memory")
    case.close()


def _os_frame(name: str, release: str, build: str, host: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "system": pd.Series(["Windows"], dtype="category"),
            "name": pd.Series([name], dtype="string"),
            "version": pd.Series([release], dtype="string"),
            "build": pd.Series([build], dtype="string"),
            "hostname": pd.Series([host], dtype="string"),
        }
    )


def _software_frame(rng: random.Random, transfer: str) -> pd.DataFrame:
    edge = f"1{rng.randint(28, 31)}.0.{rng.randint(2000, 2999)}.{rng.randint(40, 99)}"
    rows = [
        (SYNTHETIC_TRANSFER_NAME, transfer, "Zusatzversorgungskasse"),
        ("Adobe Acrobat Reader (64-bit)", rng.choice(_READER), "Adobe"),
        ("Microsoft Edge", edge, "Microsoft Corporation"),
    ]
    if rng.random() < 0.3:
        rows.append(("Java 8 Update 381", "8.0.3810.9", "Oracle Corporation"))
    frame = pd.DataFrame(rows, columns=["name", "version", "publisher"])
    return frame.astype("string")


def _storage_frame(total: int, percent: float) -> pd.DataFrame:
    used = math.floor(total * percent / 100)
    return pd.DataFrame(
        {
            "mountpoint": pd.Series(["C:\\"], dtype="string"),
            "total_bytes": pd.Series([total], dtype="Int64"),
            "used_bytes": pd.Series([used], dtype="Int64"),
            "free_bytes": pd.Series([total - used], dtype="Int64"),
            "percent_used": pd.Series([round(percent, 1)], dtype="float64"),
        }
    )
