"""Running probes: each in its own thread, bounded by its timeout, never raising.

``run_probe`` returns a ``ProbeResult`` whatever happens inside the probe: a
probe that overruns its timeout gives what it had collected so far plus a
warning (a thread cannot be killed; it is told to stop and then left
behind as a daemon).  ``run_probes`` starts all requested probes at once so
the slow ones (CPU sampling, external commands) overlap.  Every record is
checked against the declared columns and every text passes ``redact_text``
here, whatever the probe did itself: one place where secrets are caught.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from zvkdiag.probes.base import Probe, ProbeContext, Record, Value, current_platform, value_fits
from zvkdiag.probes.redact import redact_text
from zvkdiag.probes.registry import DEFAULT_REGISTRY, ProbeRegistry

__all__ = ["ProbeResult", "arun_probe", "arun_probes", "normalise", "run_probe", "run_probes"]

MAX_TEXT: Final = 4000
"""Characters kept of one text value; longer ones are cut with an ellipsis."""
MAX_RECORDS: Final = 100_000


@dataclass(frozen=True)
class ProbeResult:
    """What one probe run produced on the customer's machine."""

    probe: str
    records: tuple[Record, ...]
    warnings: tuple[str, ...]
    elapsed: float
    timed_out: bool = False


class _Job:
    """One probe running in a daemon thread, collecting into a list."""

    def __init__(self, probe: type[Probe], params: dict[str, object], platform: str) -> None:
        self.probe = probe
        self.started = time.monotonic()
        self.ctx = ProbeContext(params, platform=platform, deadline=self.started + probe.timeout)
        self.records: list[Record] = []
        self.finished: float | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"probe-{probe.name}", daemon=True)

    def start(self) -> _Job:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            for record in self.probe().collect(self.ctx):
                if self.ctx.cancelled or len(self.records) >= MAX_RECORDS:
                    break
                self.records.append(record)
        except Exception as exc:  # a broken probe must not take the session with it
            self.ctx.warn(f"probe stopped early: {type(exc).__name__}: {exc}")
        finally:
            self.finished = time.monotonic()
            self.done.set()

    def result(self) -> ProbeResult:
        finished = self.done.wait(self.ctx.remaining())
        if not finished:
            self.ctx.cancel()
        records, warnings = list(self.records), list(self.ctx.warnings)
        if not finished:
            warnings.append(f"stopped after the time limit of {self.probe.timeout:g} s")
        rows, problems = normalise(self.probe, records)
        return ProbeResult(
            probe=self.probe.name,
            records=tuple(rows),
            warnings=tuple(warnings + problems),
            elapsed=(self.finished if finished and self.finished else time.monotonic())
            - self.started,
            timed_out=not finished,
        )


def normalise(probe: type[Probe], records: Iterable[Record]) -> tuple[list[Record], list[str]]:
    """Records with exactly the declared columns, values of the declared kinds, texts redacted.

    A value of the wrong kind becomes missing (and one warning per column):
    the engineer gets a table, and the probe's bug shows.
    """
    bad: set[str] = set()
    extra: set[str] = set()
    rows = []
    for record in records:
        extra.update(k for k in record if k not in probe.columns)
        row: Record = {}
        for column, dtype in probe.columns.items():
            value = _clean(record.get(column))
            if not value_fits(dtype, value):
                bad.add(column)
                value = False if dtype == "bool" else None
            row[column] = value
        rows.append(row)
    problems = [f"column {c!r}: values of the wrong kind were left out" for c in sorted(bad)]
    problems += [f"undeclared column {c!r} left out" for c in sorted(extra)]
    return rows, problems


def _clean(value: Value) -> Value:
    if isinstance(value, str):
        text = redact_text(value)
        return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        return value.astimezone(dt.UTC) if 1678 <= value.year <= 2261 else None
    return value


def _prepare(
    names: Iterable[str], params: Mapping[str, Mapping[str, object]], registry: ProbeRegistry
) -> list[tuple[type[Probe], dict[str, object]]]:
    """Look every name up and check every parameter before anything starts."""
    prepared = []
    for name in names:
        probe = registry.get(name)
        prepared.append((probe, probe.resolve_params(params.get(name))))
    return prepared


def _not_applicable(probe: type[Probe], platform: str) -> ProbeResult:
    where = ", ".join(sorted(probe.platforms))
    message = f"probe {probe.name!r} does not run on {platform} (only on {where})"
    return ProbeResult(probe=probe.name, records=(), warnings=(message,), elapsed=0.0)


def run_probes(
    names: Iterable[str] | None = None,
    params: Mapping[str, Mapping[str, object]] | None = None,
    *,
    registry: ProbeRegistry = DEFAULT_REGISTRY,
    platform: str | None = None,
) -> dict[str, ProbeResult]:
    """Run several probes concurrently; ``names=None`` means the default set.

    ``params`` maps probe name -> that probe's parameters.  Unknown names
    (``UnknownProbe``) and bad parameters (``InvalidParameter``) are raised
    before any probe starts.
    """
    where = platform or current_platform()
    chosen = registry.defaults(where) if names is None else list(names)
    prepared = _prepare(chosen, params or {}, registry)
    jobs = {
        probe.name: _Job(probe, p, where).start() if probe.applies(where) else None
        for probe, p in prepared
    }
    return {
        name: job.result() if job else _not_applicable(registry.get(name), where)
        for name, job in jobs.items()
    }


def run_probe(
    name: str,
    params: Mapping[str, object] | None = None,
    *,
    registry: ProbeRegistry = DEFAULT_REGISTRY,
    platform: str | None = None,
) -> ProbeResult:
    """Run one probe with its timeout enforced (see ``run_probes`` for the errors)."""
    results = run_probes([name], {name: params or {}}, registry=registry, platform=platform)
    return results[name]


async def arun_probe(
    name: str,
    params: Mapping[str, object] | None = None,
    *,
    registry: ProbeRegistry = DEFAULT_REGISTRY,
) -> ProbeResult:
    """``run_probe`` off the event loop, for the agent's op handler."""
    return await asyncio.to_thread(run_probe, name, params, registry=registry)


async def arun_probes(
    names: Iterable[str] | None = None,
    params: Mapping[str, Mapping[str, object]] | None = None,
    *,
    registry: ProbeRegistry = DEFAULT_REGISTRY,
) -> dict[str, ProbeResult]:
    """``run_probes`` off the event loop."""
    return await asyncio.to_thread(run_probes, names, params, registry=registry)
