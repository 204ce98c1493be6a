"""Probes over running processes and sign-ins: processes, users_sessions."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Final

import psutil

from zvkdiag.probes.base import Parameter, Probe, ProbeContext, Record, schema, utc_from_timestamp
from zvkdiag.probes.redact import executable_name, redact_argv

__all__ = ["ProcessesProbe", "UsersSessionsProbe"]

ALL = frozenset({"linux", "windows", "darwin"})
CPU_SAMPLE_SECONDS: Final = 0.1
"""psutil's per-process CPU% is 0.0 on the first call; the second call after this gap counts."""
_ATTRS: Final = [
    "pid",
    "ppid",
    "name",
    "exe",
    "username",
    "status",
    "create_time",
    "memory_info",
    "num_threads",
]


class ProcessesProbe(Probe):
    name = "processes"
    title_de = "Laufende Programme"
    title_en = "Running programs"
    description_de = (
        "Welche Programme gerade laufen, unter welchem Benutzer, seit wann und wie viel "
        "Prozessor und Arbeitsspeicher sie brauchen. Befehlszeilen-Argumente werden nicht "
        "übertragen."
    )
    description_en = (
        "Which programs are running, as which user, since when and how much processor and "
        "memory they use. Command-line arguments are not sent."
    )
    platforms = ALL
    sensitive = True
    columns = schema(
        pid="Int64",
        ppid="Int64",
        name="string",
        exe="string",
        command="string",
        username="string",
        status="category",
        started="datetime64[ns, UTC]",
        cpu_percent="float64",
        rss_bytes="Int64",
        vms_bytes="Int64",
        num_threads="Int64",
    )
    never_collect = (
        "command-line arguments (unless the engineer asks; then password-like values are masked)",
        "environment variables of processes",
        "open files and memory contents",
    )
    timeout = 10.0
    parameters = (
        Parameter(
            "include_args",
            "bool",
            False,
            "Send command-line arguments too (password-like values are still masked).",
        ),
    )

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        keep_args = bool(ctx.params.get("include_args", False))
        procs = list(psutil.process_iter(_ATTRS))
        for proc in procs:
            _prime_cpu(proc)
        time.sleep(CPU_SAMPLE_SECONDS)
        for proc in procs:
            if ctx.cancelled:
                return
            record = _process_record(proc, keep_args=keep_args)
            if record is not None:
                yield record


def _prime_cpu(proc: psutil.Process) -> None:
    with contextlib.suppress(psutil.Error):
        proc.cpu_percent(None)


def _process_record(proc: psutil.Process, *, keep_args: bool) -> Record | None:
    info = proc.info
    try:
        cpu: float | None = proc.cpu_percent(None)
        argv = proc.cmdline() if keep_args else []
    except psutil.NoSuchProcess:
        return None  # ended during the scan: normal
    except psutil.Error:
        cpu, argv = None, []
    mem = info.get("memory_info")
    name = info.get("name") or None
    exe = info.get("exe") or None
    return {
        "pid": info["pid"],
        "ppid": info.get("ppid"),
        "name": name,
        "exe": exe,
        "command": redact_argv(argv, keep_args=True)
        if argv
        else executable_name(exe or name or ""),
        "username": info.get("username") or None,
        "status": info.get("status") or None,
        "started": utc_from_timestamp(info.get("create_time")),
        "cpu_percent": cpu,
        "rss_bytes": mem.rss if mem else None,
        "vms_bytes": mem.vms if mem else None,
        "num_threads": info.get("num_threads"),
    }


class UsersSessionsProbe(Probe):
    name = "users_sessions"
    title_de = "Angemeldete Benutzer"
    title_en = "Signed-in users"
    description_de = "Wer gerade an diesem PC angemeldet ist, an welchem Terminal und seit wann."
    description_en = "Who is signed in on this PC right now, on which terminal and since when."
    platforms = ALL
    sensitive = True
    columns = schema(
        user="string",
        terminal="string",
        host="string",
        started="datetime64[ns, UTC]",
        pid="Int64",
    )
    never_collect = ("passwords", "the contents of sessions", "sign-in history")
    timeout = 5.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        for user in psutil.users():
            yield {
                "user": user.name or None,
                "terminal": user.terminal or None,
                "host": user.host or None,
                "started": utc_from_timestamp(user.started),
                "pid": user.pid,
            }
