"""Probes over running processes and sign-ins: processes, users_sessions."""

from __future__ import annotations

import contextlib
import ctypes
import ntpath
import sys
import time
from collections.abc import Iterator
from typing import Any, Final

import psutil

from zvkdiag.probes.base import Parameter, Probe, ProbeContext, Record, schema, utc_from_timestamp
from zvkdiag.probes.redact import executable_name, redact_argv

__all__ = ["ProcessesProbe", "UsersSessionsProbe"]

ALL = frozenset({"linux", "windows", "darwin"})
CPU_SAMPLE_SECONDS: Final = 0.1
_PROCESS_QUERY_LIMITED_INFORMATION: Final = 0x1000
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
        procs = list(psutil.process_iter())
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
    with contextlib.suppress(psutil.Error, OSError):
        proc.cpu_percent(None)


def _attributes(proc: psutil.Process) -> dict[str, Any] | None:
    """``_ATTRS`` one by one: what the platform cannot answer is None, the row stays.

    psutil's ``process_iter(attrs)`` turns only AccessDenied into a default;
    other errors (Wine answers ``name()`` and ``exe()`` with ``OSError 22``)
    would end the whole probe.  None when the process is gone.
    """
    info: dict[str, Any] = {"pid": proc.pid}
    with proc.oneshot():
        for attr in _ATTRS[1:]:
            try:
                info[attr] = getattr(proc, attr)()
            except psutil.ZombieProcess:
                info[attr] = None
            except psutil.NoSuchProcess:
                return None
            except (psutil.Error, OSError):
                info[attr] = None
    if sys.platform == "win32" and not info["exe"]:
        info["exe"] = windows_image_path(proc.pid)
        if not info["name"] and info["exe"]:
            info["name"] = ntpath.basename(info["exe"])
    return info


def windows_image_path(pid: int) -> str | None:
    """``QueryFullProcessImageNameW``: the exe's path where psutil's own call failed."""
    kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    kernel32.OpenProcess.restype = ctypes.c_void_p
    kernel32.OpenProcess.argtypes = (ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint32)
    kernel32.QueryFullProcessImageNameW.argtypes = (
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_wchar_p,
        ctypes.POINTER(ctypes.c_uint32),
    )
    kernel32.CloseHandle.argtypes = (ctypes.c_void_p,)
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, 0, pid)
    if not handle:
        return None
    try:
        buf = ctypes.create_unicode_buffer(32768)
        size = ctypes.c_uint32(len(buf))
        if not kernel32.QueryFullProcessImageNameW(handle, 0, buf, ctypes.byref(size)):
            return None
        return buf.value or None
    finally:
        kernel32.CloseHandle(handle)


def _process_record(proc: psutil.Process, *, keep_args: bool) -> Record | None:
    info = _attributes(proc)
    if info is None:
        return None
    try:
        cpu: float | None = proc.cpu_percent(None)
        argv = proc.cmdline() if keep_args else []
    except psutil.NoSuchProcess:
        return None  # ended during the scan: normal
    except (psutil.Error, OSError):
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
