"""Probes for the machine itself: os, hardware, resources, storage."""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import psutil

from zvkdiag.probes.base import Probe, ProbeContext, Record, schema, utc_from_timestamp
from zvkdiag.probes.winformats import (
    RegTree,
    int_or_none,
    powershell_json,
    read_registry,
    reg_values,
    text_or_none,
)

__all__ = [
    "HardwareProbe",
    "OsProbe",
    "ResourcesProbe",
    "StorageProbe",
    "hardware_from_cim",
    "os_from_registry",
    "parse_os_release",
]

ALL = frozenset({"linux", "windows", "darwin"})
_WIN_VERSION_KEY = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
_HARDWARE_PS = (
    "$cs = Get-CimInstance Win32_ComputerSystem | Select-Object Manufacturer,Model,"
    "TotalPhysicalMemory; $cpu = Get-CimInstance Win32_Processor | Select-Object -First 1 "
    "Name,NumberOfCores,NumberOfLogicalProcessors,MaxClockSpeed; $bios = Get-CimInstance "
    "Win32_BIOS | Select-Object Manufacturer,SMBIOSBIOSVersion,ReleaseDate; "
    "[pscustomobject]@{ComputerSystem=$cs; Processor=$cpu; BIOS=$bios} | ConvertTo-Json -Depth 3"
)


def parse_os_release(text: str) -> dict[str, str]:
    """``/etc/os-release`` as a dict (shell-style quoting removed)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            fields[key] = value.strip().strip('"').strip("'")
    return fields


def os_from_registry(tree: RegTree) -> dict[str, str | None]:
    """Name, version and build from ``HKLM\\...\\Windows NT\\CurrentVersion``.

    Windows 11 still says "Windows 10" in ``ProductName``; build 22000 and
    later is Windows 11, so the name is corrected from the build number.
    """
    values = reg_values(tree, _WIN_VERSION_KEY) or {}
    name = text_or_none(values.get("ProductName"))
    build = text_or_none(values.get("CurrentBuild") or values.get("CurrentBuildNumber"))
    ubr = int_or_none(values.get("UBR"))
    if name and build and build.isdigit() and int(build) >= 22000:
        name = name.replace("Windows 10", "Windows 11")
    return {
        "name": name,
        "version": text_or_none(values.get("DisplayVersion") or values.get("ReleaseId")),
        "build": f"{build}.{ubr}" if build and ubr is not None else build,
        "edition": text_or_none(values.get("EditionID")),
    }


class OsProbe(Probe):
    name = "os"
    title_de = "Betriebssystem"
    title_en = "Operating system"
    description_de = (
        "Name und Version des Betriebssystems, Rechnername, Startzeit, Zeitzone und Sprache."
    )
    description_en = (
        "Name and version of the operating system, computer name, start time, time zone "
        "and language."
    )
    platforms = ALL
    columns = schema(
        system="category",
        name="string",
        version="string",
        build="string",
        edition="string",
        kernel="string",
        architecture="category",
        hostname="string",
        boot_time="datetime64[ns, UTC]",
        uptime_seconds="Int64",
        timezone="string",
        locale="string",
    )
    never_collect = ("product keys", "licence information", "user names")
    timeout = 5.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        info: dict[str, str | None] = {
            "name": None,
            "version": None,
            "build": None,
            "edition": None,
        }
        if ctx.platform == "windows":
            with ctx.attempt("registry Windows NT\\CurrentVersion"):
                info = os_from_registry(read_registry(_WIN_VERSION_KEY, depth=0))
        elif ctx.platform == "linux":
            with ctx.attempt("/etc/os-release"):
                fields = parse_os_release(Path("/etc/os-release").read_text(encoding="utf-8"))
                info = {
                    "name": fields.get("PRETTY_NAME") or fields.get("NAME"),
                    "version": fields.get("VERSION_ID"),
                    "build": fields.get("BUILD_ID"),
                    "edition": fields.get("VARIANT"),
                }
        else:
            info["name"], info["version"] = "macOS", platform.mac_ver()[0] or None
        uname = platform.uname()
        boot = psutil.boot_time()
        yield {
            "system": uname.system or None,
            **info,
            "kernel": uname.release or None,
            "architecture": uname.machine or None,
            "hostname": uname.node or None,
            "boot_time": utc_from_timestamp(boot),
            "uptime_seconds": int(time.time() - boot),
            "timezone": _timezone_name(),
            "locale": _locale_name(),
        }


def _timezone_name() -> str | None:
    local = dt.datetime.now().astimezone()
    return local.tzname()


def _locale_name() -> str | None:
    import locale

    return locale.getlocale()[0] or os.environ.get("LANG") or None


def hardware_from_cim(data: Mapping[str, object]) -> Record:
    """One hardware record from the combined Win32_ComputerSystem/Processor/BIOS JSON."""

    def part(name: str) -> Mapping[str, object]:
        value = data.get(name)
        return value if isinstance(value, dict) else {}

    cs, cpu, bios = part("ComputerSystem"), part("Processor"), part("BIOS")
    clock = int_or_none(cpu.get("MaxClockSpeed"))
    return {
        "manufacturer": text_or_none(cs.get("Manufacturer")),
        "model": text_or_none(cs.get("Model")),
        "cpu_model": text_or_none(cpu.get("Name")),
        "cpu_cores_physical": int_or_none(cpu.get("NumberOfCores")),
        "cpu_cores_logical": int_or_none(cpu.get("NumberOfLogicalProcessors")),
        "cpu_max_mhz": float(clock) if clock is not None else None,
        "memory_total_bytes": int_or_none(cs.get("TotalPhysicalMemory")),
        "bios_vendor": text_or_none(bios.get("Manufacturer")),
        "bios_version": text_or_none(bios.get("SMBIOSBIOSVersion")),
    }


class HardwareProbe(Probe):
    name = "hardware"
    title_de = "Hardware"
    title_en = "Hardware"
    description_de = "Hersteller und Modell des PCs, Prozessor, Arbeitsspeicher und BIOS-Version."
    description_en = "Maker and model of the PC, processor, memory and BIOS version."
    platforms = ALL
    columns = schema(
        manufacturer="string",
        model="string",
        cpu_model="string",
        cpu_cores_physical="Int64",
        cpu_cores_logical="Int64",
        cpu_max_mhz="float64",
        memory_total_bytes="Int64",
        bios_vendor="string",
        bios_version="string",
    )
    never_collect = ("serial numbers", "asset tags", "UUIDs")
    timeout = 15.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        if ctx.platform == "windows":
            found = powershell_json(ctx, _HARDWARE_PS)
            if found:
                yield hardware_from_cim(found[0])
                return
        yield self._psutil_record(ctx)

    def _psutil_record(self, ctx: ProbeContext) -> Record:
        freq = None
        with ctx.attempt("cpu frequency"):
            f = psutil.cpu_freq()
            freq = float(f.max or f.current) if f else None
        return {
            "manufacturer": _dmi("sys_vendor"),
            "model": _dmi("product_name"),
            "cpu_model": _linux_cpu_model() or platform.processor() or None,
            "cpu_cores_physical": psutil.cpu_count(logical=False),
            "cpu_cores_logical": psutil.cpu_count(logical=True),
            "cpu_max_mhz": freq or None,
            "memory_total_bytes": psutil.virtual_memory().total,
            "bios_vendor": _dmi("bios_vendor"),
            "bios_version": _dmi("bios_version"),
        }


def _dmi(field: str) -> str | None:
    try:
        return Path("/sys/class/dmi/id", field).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _linux_cpu_model() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "cpu model"):
            return value.strip() or None
    return None


class ResourcesProbe(Probe):
    name = "resources"
    title_de = "Auslastung"
    title_en = "Load"
    description_de = (
        "Wie stark Prozessor und Arbeitsspeicher gerade ausgelastet sind (Momentaufnahme)."
    )
    description_en = "How busy the processor and memory are right now (a snapshot)."
    platforms = ALL
    columns = schema(
        cpu_percent="float64",
        load_1m="float64",
        load_5m="float64",
        memory_total_bytes="Int64",
        memory_available_bytes="Int64",
        memory_percent="float64",
        swap_total_bytes="Int64",
        swap_used_bytes="Int64",
        process_count="Int64",
    )
    never_collect = ("anything per process or per user",)
    timeout = 5.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        # each source alone: under Wine, psutil's swap figures (PDH counters) fail
        record: Record = dict.fromkeys(self.columns)
        with ctx.attempt("cpu"):
            record["cpu_percent"] = psutil.cpu_percent(interval=0.1)
        with ctx.attempt("load average"):
            record["load_1m"], record["load_5m"] = psutil.getloadavg()[:2]
        with ctx.attempt("memory"):
            mem = psutil.virtual_memory()
            record["memory_total_bytes"] = mem.total
            record["memory_available_bytes"] = mem.available
            record["memory_percent"] = mem.percent
        with ctx.attempt("swap"):
            swap = psutil.swap_memory()
            record["swap_total_bytes"], record["swap_used_bytes"] = swap.total, swap.used
        with ctx.attempt("process list"):
            record["process_count"] = len(psutil.pids())
        yield record


class StorageProbe(Probe):
    name = "storage"
    title_de = "Laufwerke"
    title_en = "Drives"
    description_de = "Laufwerke und Partitionen mit Größe, belegtem und freiem Platz."
    description_en = "Drives and partitions with their size, used and free space."
    platforms = ALL
    columns = schema(
        device="string",
        mountpoint="string",
        fstype="category",
        total_bytes="Int64",
        used_bytes="Int64",
        free_bytes="Int64",
        percent_used="float64",
        read_only="boolean",
    )
    never_collect = ("file names", "file contents")
    timeout = 10.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        for part in psutil.disk_partitions(all=False):
            usage = None
            with ctx.attempt(f"disk usage of {part.mountpoint}"):
                usage = psutil.disk_usage(part.mountpoint)
            yield {
                "device": part.device or None,
                "mountpoint": part.mountpoint,
                "fstype": part.fstype or None,
                "total_bytes": usage.total if usage else None,
                "used_bytes": usage.used if usage else None,
                "free_bytes": usage.free if usage else None,
                "percent_used": usage.percent if usage else None,
                "read_only": "ro" in part.opts.split(","),
            }
