"""Installed software and its state: software, updates, reboot_pending."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from zvkdiag.probes.base import Parameter, Probe, ProbeContext, Record, schema
from zvkdiag.probes.winformats import (
    RegTree,
    RegValue,
    int_or_none,
    parse_yyyymmdd,
    powershell_json,
    read_registry,
    reg_subkeys,
    reg_values,
    text_or_none,
)

__all__ = [
    "RebootPendingProbe",
    "SoftwareProbe",
    "UpdatesProbe",
    "hotfixes_from_cim",
    "parse_apt_history",
    "parse_apt_upgradable",
    "parse_dpkg_query",
    "reboot_indicators_from_registry",
    "software_from_uninstall",
]

_UNINSTALL: Final = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
UNINSTALL_KEYS: Final = {
    rf"HKLM\{_UNINSTALL}": "registry-machine",
    rf"HKLM\SOFTWARE\WOW6432Node\{_UNINSTALL[9:]}": "registry-machine-32bit",
    rf"HKCU\{_UNINSTALL}": "registry-user",
}
CBS_REBOOT: Final = (
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending"
)
WU_REBOOT: Final = (
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired"
)
SESSION_MANAGER: Final = r"HKLM\SYSTEM\CurrentControlSet\Control\Session Manager"
DPKG_FORMAT: Final = (
    r"${Package}\t${Version}\t${Architecture}\t${Installed-Size}\t${db:Status-Abbrev}"
    r"\t${Maintainer}\n"
)
_HOTFIX_PS: Final = (
    "Get-CimInstance Win32_QuickFixEngineering | Select-Object HotFixID,Description,InstalledOn "
    "| ConvertTo-Json"
)


def software_from_uninstall(tree: RegTree, parent: str, source: str) -> Iterator[Record]:
    """Programs under one Uninstall key, as "Apps & Features" lists them.

    Entries without ``DisplayName``, system components and updates of other
    entries (``ParentKeyName``) are not programs the customer installed.
    """
    for values in reg_subkeys(tree, parent).values():
        name = text_or_none(values.get("DisplayName"))
        if not name or values.get("SystemComponent") == 1 or "ParentKeyName" in values:
            continue
        size_kb = int_or_none(values.get("EstimatedSize"))
        yield {
            "name": name,
            "version": text_or_none(values.get("DisplayVersion")),
            "publisher": text_or_none(values.get("Publisher")),
            "install_date": parse_yyyymmdd(values.get("InstallDate")),
            "size_bytes": size_kb * 1024 if size_kb is not None else None,
            "architecture": "x86" if "32bit" in source else None,
            "source": source,
        }


def parse_dpkg_query(text: str) -> Iterator[Record]:
    """Installed packages from ``dpkg-query -W`` with ``DPKG_FORMAT``."""
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) < 5 or not cols[4].startswith("ii"):
            continue
        size_kib = int_or_none(cols[3])
        yield {
            "name": cols[0],
            "version": cols[1] or None,
            "publisher": cols[5].split("<")[0].strip() or None if len(cols) > 5 else None,
            "install_date": None,
            "size_bytes": size_kib * 1024 if size_kib is not None else None,
            "architecture": cols[2] or None,
            "source": "dpkg",
        }


class SoftwareProbe(Probe):
    name = "software"
    title_de = "Installierte Programme"
    title_en = "Installed programs"
    description_de = (
        "Welche Programme installiert sind, mit Version, Hersteller, Installationsdatum und Größe."
    )
    description_en = "Which programs are installed, with version, maker, install date and size."
    platforms = frozenset({"linux", "windows"})
    columns = schema(
        name="string",
        version="string",
        publisher="string",
        install_date="datetime64[ns, UTC]",
        size_bytes="Int64",
        architecture="category",
        source="category",
    )
    never_collect = ("licence keys", "program settings", "documents")
    timeout = 20.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        if ctx.platform == "windows":
            for key, source in UNINSTALL_KEYS.items():
                with ctx.attempt(f"registry {key}"):
                    yield from software_from_uninstall(read_registry(key, depth=1), key, source)
            return
        out = ctx.run(["dpkg-query", "-W", "-f", DPKG_FORMAT])
        if out is not None:
            yield from parse_dpkg_query(out)


def hotfixes_from_cim(items: list[Mapping[str, object]]) -> Iterator[Record]:
    """Installed Windows updates from ``Win32_QuickFixEngineering`` JSON.

    ``InstalledOn`` is a plain string there, ``M/D/YYYY`` whatever the locale.
    """
    for item in items:
        hotfix = text_or_none(item.get("HotFixID"))
        if not hotfix or hotfix == "File 1":
            continue
        yield {
            "kind": "installed",
            "id": hotfix,
            "title": text_or_none(item.get("Description")),
            "version": None,
            "previous_version": None,
            "date": _us_date(item.get("InstalledOn")),
            "source": "windows-update",
        }


def _us_date(value: object) -> dt.datetime | None:
    if isinstance(value, dict):
        value = value.get("value")
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", str(value or "").strip())
    if not match:
        return None
    month, day, year = (int(g) for g in match.groups())
    try:
        return dt.datetime(year, month, day, tzinfo=dt.UTC)
    except ValueError:
        return None


_HISTORY_PKG = re.compile(r"([^\s:,]+)(?::[\w-]+)? \(([^,)]+)(?:, ([^)]+))?\)")


def parse_apt_history(text: str, *, since: dt.datetime, tz: dt.tzinfo) -> Iterator[Record]:
    """Upgrades and installs from ``/var/log/apt/history.log`` newer than ``since``."""
    when: dt.datetime | None = None
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        if key == "Start-Date":
            when = _apt_time(value, tz)
        elif key in ("Upgrade", "Install") and when is not None and when >= since:
            for name, first, second in _HISTORY_PKG.findall(value):
                upgraded = key == "Upgrade"
                yield {
                    "kind": "installed",
                    "id": name,
                    "title": None,
                    "version": (second if upgraded else first).strip(),
                    "previous_version": first.strip() if upgraded else None,
                    "date": when,
                    "source": "apt",
                }


def _apt_time(value: str, tz: dt.tzinfo) -> dt.datetime | None:
    try:
        naive = dt.datetime.strptime(" ".join(value.split()), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=tz).astimezone(dt.UTC)


_UPGRADABLE = re.compile(
    r"^(?P<name>[^/\s]+)/(?P<repo>\S+) (?P<new>\S+) \S+ \[upgradable from: (?P<old>[^\]]+)\]"
)


def parse_apt_upgradable(text: str) -> Iterator[Record]:
    """Pending upgrades from ``apt list --upgradable``."""
    for line in text.splitlines():
        if match := _UPGRADABLE.match(line.strip()):
            yield {
                "kind": "pending",
                "id": match["name"],
                "title": match["repo"],
                "version": match["new"],
                "previous_version": match["old"],
                "date": None,
                "source": "apt",
            }


class UpdatesProbe(Probe):
    name = "updates"
    title_de = "Updates"
    title_en = "Updates"
    description_de = "Welche Updates in letzter Zeit installiert wurden und welche noch ausstehen."
    description_en = "Which updates were installed recently and which are still waiting."
    platforms = frozenset({"linux", "windows"})
    columns = schema(
        kind="category",
        id="string",
        title="string",
        version="string",
        previous_version="string",
        date="datetime64[ns, UTC]",
        source="category",
    )
    never_collect = ("update server credentials", "proxy passwords")
    timeout = 20.0
    parameters = (
        Parameter(
            "days", "int", 90, "installed updates of the last N days", minimum=1, maximum=3650
        ),
        Parameter("pending", "bool", True, "also list updates that wait to be installed (Linux)"),
    )

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        days = int(ctx.params.get("days", 90))  # type: ignore[call-overload]
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
        if ctx.platform == "windows":
            for row in hotfixes_from_cim(powershell_json(ctx, _HOTFIX_PS)):
                if row["date"] is None or row["date"] >= since:  # type: ignore[operator]
                    yield row
            return
        with ctx.attempt("/var/log/apt/history.log"):
            text = Path("/var/log/apt/history.log").read_text(encoding="utf-8", errors="replace")
            tz = dt.datetime.now().astimezone().tzinfo or dt.UTC
            yield from parse_apt_history(text, since=since, tz=tz)
        if ctx.params.get("pending", True):
            out = ctx.run(["apt", "list", "--upgradable"])
            if out is not None:
                yield from parse_apt_upgradable(out)


def reboot_indicators_from_registry(tree: RegTree) -> Iterator[Record]:
    """The three registry signs of a pending reboot (none of them needs admin rights to read)."""
    yield _indicator("component-servicing", reg_values(tree, CBS_REBOOT) is not None, None)
    yield _indicator("windows-update", reg_values(tree, WU_REBOOT) is not None, None)
    session: Mapping[str, RegValue] = reg_values(tree, SESSION_MANAGER) or {}
    # (source, target) pairs with empty targets for deletions; winreg may stop at the
    # first empty string, so count entries instead of pairing them
    renames = session.get("PendingFileRenameOperations")
    count = len([r for r in renames if r]) if isinstance(renames, list) else 0
    yield _indicator("file-rename-operations", count > 0, f"{count} entries" if count else None)


def _indicator(name: str, pending: bool, detail: str | None) -> Record:
    return {"indicator": name, "pending": pending, "detail": detail}


class RebootPendingProbe(Probe):
    name = "reboot_pending"
    title_de = "Neustart ausstehend"
    title_en = "Restart pending"
    description_de = "Ob der PC nach Updates neu gestartet werden muss, und warum."
    description_en = "Whether the PC needs a restart after updates, and why."
    platforms = frozenset({"linux", "windows"})
    columns = schema(indicator="string", pending="bool", detail="string")
    never_collect = ("names of the files waiting to be replaced",)
    timeout = 5.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        if ctx.platform == "windows":
            tree: RegTree = {}
            for key in (CBS_REBOOT, WU_REBOOT, SESSION_MANAGER):
                with ctx.attempt(f"registry {key}"):
                    tree |= read_registry(key, depth=0)
            yield from reboot_indicators_from_registry(tree)
            return
        flag = Path("/run/reboot-required")
        pkgs = Path("/run/reboot-required.pkgs")
        detail = None
        if pkgs.exists():
            with ctx.attempt(str(pkgs)):
                detail = ", ".join(pkgs.read_text(encoding="utf-8").split()) or None
        yield _indicator("reboot-required-file", flag.exists(), detail)
        with ctx.attempt("installed kernels"):
            yield from _kernel_indicator(Path("/lib/modules"))


def _kernel_indicator(modules: Path) -> Iterator[Record]:
    """Running kernel's modules gone while others are installed: an upgrade awaits a reboot.

    Without any installed kernel (containers) nothing can be said, so no row.
    """
    release = Path("/proc/sys/kernel/osrelease").read_text(encoding="utf-8").strip()
    installed = sorted(p.name for p in modules.iterdir()) if modules.is_dir() else []
    if installed:
        pending = release not in installed
        yield _indicator("running-kernel-removed", pending, f"running {release}")
