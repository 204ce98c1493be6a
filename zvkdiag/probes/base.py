"""The declarative ``Probe`` base class, its parameters and the collection context.

A probe says up front what it is (titles and descriptions in German and
English for the consent dialog), where it applies, which columns with which
dtypes it yields, and what it must never collect -- the sos plugin idea.
``collect`` yields plain record dicts; a source that fails becomes a warning on
the ``ProbeContext`` instead of an exception, so the engineer still gets what
could be read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Final, Literal

from zvkdiag._errors import InvalidParameter
from zvkdiag.probes.redact import redact_text

__all__ = [
    "DTYPES",
    "PLATFORMS",
    "Parameter",
    "Params",
    "Probe",
    "ProbeContext",
    "Record",
    "Value",
    "current_platform",
    "record_problems",
    "schema",
    "utc_from_timestamp",
    "value_fits",
]

Value = str | int | float | bool | dt.datetime | None
Record = dict[str, Value]
Params = Mapping[str, object]

PLATFORMS: Final = frozenset({"linux", "windows", "darwin"})
DTYPES: Final = frozenset(
    {"string", "Int64", "float64", "category", "bool", "boolean", "datetime64[ns, UTC]"}
)
COMMAND_TIMEOUT: Final = 10.0
"""Upper bound for one external command (``powershell``, ``dpkg-query``, ...)."""
MAX_WARNING_CHARS: Final = 300

ParamKind = Literal["int", "float", "str", "bool", "list[str]"]


def schema(**columns: str) -> Mapping[str, str]:
    """A probe's column declaration: read-only, and every dtype checked at import time."""
    unknown = {c: d for c, d in columns.items() if d not in DTYPES}
    if unknown:
        raise TypeError(f"unknown dtypes {unknown}; allowed: {sorted(DTYPES)}")
    return MappingProxyType(dict(columns))


def current_platform() -> str:
    """``linux``, ``windows`` or ``darwin``: the names probes declare."""
    if sys.platform == "win32":
        return "windows"
    return "darwin" if sys.platform == "darwin" else "linux"


def utc_from_timestamp(seconds: float | None) -> dt.datetime | None:
    """A tz-aware UTC datetime from epoch seconds (None for missing or absurd values)."""
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class Parameter:
    """One parameter a probe accepts from the engineer, with bounds checked on both sides."""

    name: str
    kind: ParamKind
    default: object
    help: str
    minimum: float | None = None
    maximum: float | None = None
    max_items: int = 50
    max_chars: int = 255

    def check(self, value: object) -> object:
        """Return ``value`` if it fits this parameter, else raise ``InvalidParameter``."""
        if self.kind == "list[str]":
            return self._check_list(value)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise self._error(value, "true or false")
            return value
        if self.kind == "str":
            if not isinstance(value, str) or len(value) > self.max_chars:
                raise self._error(value, f"text of at most {self.max_chars} characters")
            return value
        return self._check_number(value)

    def _check_number(self, value: object) -> object:
        allowed: tuple[type, ...] = (int,) if self.kind == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise self._error(value, "a whole number" if self.kind == "int" else "a number")
        number = float(value)  # type: ignore[arg-type]
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        if not (low <= number <= high):
            raise self._error(value, f"a number between {self.minimum} and {self.maximum}")
        return value

    def _check_list(self, value: object) -> list[str]:
        if not isinstance(value, list | tuple) or len(value) > self.max_items:
            raise self._error(value, f"a list of at most {self.max_items} texts")
        items = list(value)
        if not all(isinstance(v, str) and 0 < len(v) <= self.max_chars for v in items):
            raise self._error(value, f"texts of 1 to {self.max_chars} characters")
        return [str(v) for v in items]

    def _error(self, value: object, expected: str) -> InvalidParameter:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return InvalidParameter(
            f"Parameter {self.name!r} must be {expected}, not {shown}.", parameter=self.name
        )


class ProbeContext:
    """What ``collect`` gets: checked parameters, a warnings list, a deadline.

    Warnings are how a probe reports a source that failed; the probe goes on
    with the next source.  ``cancelled`` turns true once the runner gave up on
    the probe (timeout), so long loops can stop early.
    """

    def __init__(
        self,
        params: Mapping[str, object],
        *,
        platform: str | None = None,
        deadline: float | None = None,
    ) -> None:
        self.params = dict(params)
        self.platform = platform or current_platform()
        self.deadline = deadline if deadline is not None else time.monotonic() + 3600.0
        self.warnings: list[str] = []
        self._cancel = threading.Event()

    def warn(self, message: str) -> None:
        """Note a failed or partial source; shown to the engineer next to the table."""
        text = redact_text(" ".join(message.split()))
        self.warnings.append(text[:MAX_WARNING_CHARS])

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set() or time.monotonic() >= self.deadline

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    @contextlib.contextmanager
    def attempt(self, source: str) -> Iterator[None]:
        """Run one source; any exception becomes a warning naming ``source``."""
        try:
            yield
        except Exception as exc:  # the contract: a failing source never aborts the probe
            self.warn(f"{source}: {type(exc).__name__}: {exc}")

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = COMMAND_TIMEOUT,
        ok_codes: tuple[int, ...] = (0,),
    ) -> str | None:
        """Run a command and return its stdout, or None plus a warning when it failed.

        The command gets ``LC_ALL=C`` on POSIX so its output parses the same
        everywhere; stdin is closed so nothing can wait for input.
        """
        env = None if self.platform == "windows" else {**_minimal_env(), "LC_ALL": "C"}
        try:
            done = subprocess.run(
                list(argv),
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=max(0.1, min(timeout, self.remaining())),
                env=env,
                check=False,
            )
        except FileNotFoundError:
            self.warn(f"{argv[0]}: not installed")
            return None
        except (subprocess.TimeoutExpired, OSError) as exc:
            self.warn(f"{argv[0]}: {type(exc).__name__}: {exc}")
            return None
        stdout = done.stdout.decode("utf-8", errors="replace")
        if done.returncode not in ok_codes:
            err = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            self.warn(f"{argv[0]} exited with {done.returncode}: {err[0] if err else ''}")
            return None
        return stdout


def _minimal_env() -> dict[str, str]:
    """Only PATH is passed on: child commands never see the agent's other variables."""
    return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}


class Probe:
    """Base class of every probe; subclasses set the class attributes and ``collect``.

    Attributes
    ----------
    name
        Registry key and wire name (lower case, ``[a-z_]``).
    title_de, title_en, description_de, description_en
        What the customer reads in the consent dialog: plain words on what is
        collected.
    platforms
        Where ``collect`` works (subset of ``PLATFORMS``).
    sensitive
        The customer sees a preview of the data before it is sent.
    columns
        Column name -> dtype (one of ``DTYPES``); records carry exactly these keys.
    never_collect
        Declared up front: what this probe never reads or sends.
    timeout
        Seconds the runner waits before returning what was collected so far.
    default
        Part of the default set (``run_probes()`` without names).
    parameters
        What the engineer may pass.
    """

    name: ClassVar[str]
    title_de: ClassVar[str]
    title_en: ClassVar[str]
    description_de: ClassVar[str]
    description_en: ClassVar[str]
    platforms: ClassVar[frozenset[str]]
    sensitive: ClassVar[bool] = False
    columns: ClassVar[Mapping[str, str]]
    never_collect: ClassVar[tuple[str, ...]] = ()
    timeout: ClassVar[float] = 10.0
    default: ClassVar[bool] = True
    parameters: ClassVar[tuple[Parameter, ...]] = ()

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        """Yield one record per row; report failed sources with ``ctx.warn``."""
        raise NotImplementedError

    @classmethod
    def applies(cls, platform: str | None = None) -> bool:
        return (platform or current_platform()) in cls.platforms

    @classmethod
    def resolve_params(cls, raw: Mapping[str, object] | None) -> dict[str, object]:
        """Defaults filled in, every value checked; unknown names are an error."""
        given = dict(raw or {})
        known = {p.name: p for p in cls.parameters}
        unknown = sorted(set(given) - set(known))
        if unknown:
            accepted = ", ".join(sorted(known)) or "none"
            raise InvalidParameter(
                f"Probe {cls.name!r} has no parameter {unknown[0]!r} (accepted: {accepted}).",
                parameter=unknown[0],
            )
        return {n: p.check(given[n]) if n in given else p.default for n, p in known.items()}

    @classmethod
    def describe(cls) -> dict[str, object]:
        """A plain, JSON-ready description (catalog entry and consent detail)."""
        return {
            "name": cls.name,
            "title_de": cls.title_de,
            "title_en": cls.title_en,
            "description_de": cls.description_de,
            "description_en": cls.description_en,
            "platforms": sorted(cls.platforms),
            "sensitive": cls.sensitive,
            "default": cls.default,
            "timeout": cls.timeout,
            "columns": dict(cls.columns),
            "never_collect": list(cls.never_collect),
            "parameters": [
                {"name": p.name, "kind": p.kind, "default": p.default, "help": p.help}
                for p in cls.parameters
            ],
        }


def value_fits(dtype: str, value: object) -> bool:
    """Whether a Python value is what a record may carry for ``dtype``."""
    if value is None:
        return dtype != "bool"
    if dtype in ("string", "category"):
        return isinstance(value, str)
    if dtype == "Int64":
        return isinstance(value, int) and not isinstance(value, bool)
    if dtype == "float64":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if dtype in ("bool", "boolean"):
        return isinstance(value, bool)
    if dtype == "datetime64[ns, UTC]":
        return isinstance(value, dt.datetime) and value.utcoffset() is not None
    return False


def record_problems(probe: type[Probe], record: Mapping[str, object]) -> list[str]:
    """Everything wrong with one record against the declared columns (empty: fine)."""
    problems = [f"missing column {c!r}" for c in probe.columns if c not in record]
    problems += [f"undeclared column {c!r}" for c in record if c not in probe.columns]
    for column, dtype in probe.columns.items():
        if column in record and not value_fits(dtype, record[column]):
            problems.append(f"{column!r}={record[column]!r} does not fit {dtype}")
    return problems
