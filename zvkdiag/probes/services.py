"""Background programs: services and autostart entries."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from zvkdiag.probes.base import Probe, ProbeContext, Record, schema
from zvkdiag.probes.redact import redact_text
from zvkdiag.probes.winformats import (
    RegTree,
    int_or_none,
    powershell_json,
    read_registry,
    reg_values,
    text_or_none,
)

__all__ = [
    "AutostartProbe",
    "ServicesProbe",
    "autostart_from_registry",
    "command_executable",
    "parse_desktop_entry",
    "parse_systemctl_unit_files",
    "parse_systemctl_units",
    "services_from_cim",
]

_SERVICES_PS: Final = (
    "Get-CimInstance Win32_Service | Select-Object Name,DisplayName,State,StartMode,ProcessId "
    "| ConvertTo-Json"
)
_RUN: Final = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
RUN_KEYS: Final = {
    rf"HKLM\{_RUN}": "machine",
    rf"HKLM\{_RUN}Once": "machine",
    r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Run": "machine",
    rf"HKCU\{_RUN}": "user",
    rf"HKCU\{_RUN}Once": "user",
}
APPROVED: Final = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"


def parse_systemctl_units(text: str) -> dict[str, tuple[str, str, str]]:
    """``systemctl list-units --plain --no-legend``: unit -> (active, sub, description)."""
    units = {}
    for line in text.splitlines():
        cols = line.split(None, 4)
        if len(cols) >= 4 and cols[0].endswith(".service"):
            units[cols[0]] = (cols[2], cols[3], cols[4] if len(cols) > 4 else "")
    return units


def parse_systemctl_unit_files(text: str) -> dict[str, str]:
    """``systemctl list-unit-files --no-legend``: unit -> enablement state."""
    states = {}
    for line in text.splitlines():
        cols = line.split()
        if len(cols) >= 2 and cols[0].endswith(".service"):
            states[cols[0]] = cols[1]
    return states


def services_from_cim(items: list[Mapping[str, object]]) -> Iterator[Record]:
    """Services from ``Win32_Service`` JSON (readable without admin rights)."""
    for item in items:
        name = text_or_none(item.get("Name"))
        if name:
            state = text_or_none(item.get("State"))
            mode = text_or_none(item.get("StartMode"))
            pid = int_or_none(item.get("ProcessId"))
            yield {
                "name": name,
                "display_name": text_or_none(item.get("DisplayName")),
                "state": state.lower() if state else None,
                "start_mode": mode.lower() if mode else None,
                "pid": pid or None,
            }


class ServicesProbe(Probe):
    name = "services"
    title_de = "Dienste"
    title_en = "Services"
    description_de = "Welche Hintergrunddienste es gibt, ob sie laufen und wie sie starten."
    description_en = "Which background services exist, whether they run and how they start."
    platforms = frozenset({"linux", "windows"})
    columns = schema(
        name="string",
        display_name="string",
        state="category",
        start_mode="category",
        pid="Int64",
    )
    never_collect = ("service command lines and their arguments", "service account passwords")
    timeout = 15.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        if ctx.platform == "windows":
            yield from services_from_cim(powershell_json(ctx, _SERVICES_PS))
            return
        plain = ["--no-legend", "--no-pager", "--plain"]
        units_out = ctx.run(["systemctl", "list-units", "--type=service", "--all", *plain])
        if units_out is None:
            yield from _init_scripts(ctx)
            return
        files = ctx.run(["systemctl", "list-unit-files", "--type=service", *plain]) or ""
        modes = parse_systemctl_unit_files(files)
        for unit, (active, _sub, description) in parse_systemctl_units(units_out).items():
            yield {
                "name": unit.removesuffix(".service"),
                "display_name": description or None,
                "state": active,
                "start_mode": modes.get(unit),
                "pid": None,
            }


def _init_scripts(ctx: ProbeContext) -> Iterator[Record]:
    """Without systemd (containers, old systems) the SysV scripts at least name the services."""
    ctx.warn("systemd is not running: services listed from /etc/init.d without their state")
    folder = Path("/etc/init.d")
    for script in sorted(folder.iterdir()) if folder.is_dir() else []:
        if script.is_file() and os.access(script, os.X_OK):
            yield {
                "name": script.name,
                "display_name": None,
                "state": None,
                "start_mode": None,
                "pid": None,
            }


def command_executable(command: str) -> str | None:
    """The program of a command line, without its arguments (which may hold secrets)."""
    text = command.strip()
    if text.startswith('"'):
        return text[1:].split('"', 1)[0] or None
    lowered = text.lower()
    for ext in (".exe", ".bat", ".cmd", ".com"):
        if (pos := lowered.find(ext)) != -1:
            return text[: pos + len(ext)]
    try:
        parts = shlex.split(text)
    except ValueError:
        parts = text.split()
    return parts[0] if parts else None


def autostart_from_registry(tree: RegTree) -> Iterator[Record]:
    """Run/RunOnce entries, with "disabled in Task Manager" taken from StartupApproved.

    StartupApproved holds 12 bytes per entry; an even first byte means enabled.
    """
    for key, scope in RUN_KEYS.items():
        hive = key.split("\\", 1)[0]
        approved = reg_values(tree, rf"{hive}\{APPROVED}") or {}
        for name, value in (reg_values(tree, key) or {}).items():
            if not name or not isinstance(value, str):
                continue
            flag = approved.get(name)
            enabled = flag[0] % 2 == 0 if isinstance(flag, bytes) and flag else True
            yield {
                "name": name,
                "executable": command_executable(value),
                "location": _run_location(key),
                "scope": scope,
                "enabled": enabled,
            }


def _run_location(key: str) -> str:
    if "WOW6432Node" in key:
        return "run-key-32bit"
    return "runonce-key" if key.endswith("RunOnce") else "run-key"


def parse_desktop_entry(text: str) -> dict[str, str]:
    """The ``[Desktop Entry]`` group of an XDG ``.desktop`` file."""
    fields: dict[str, str] = {}
    in_entry = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            in_entry = line == "[Desktop Entry]"
        elif in_entry and "=" in line:
            key, _, value = line.partition("=")
            fields.setdefault(key.strip(), value.strip())
    return fields


class AutostartProbe(Probe):
    name = "autostart"
    title_de = "Autostart"
    title_en = "Startup programs"
    description_de = "Welche Programme beim Start des PCs oder bei der Anmeldung mitstarten."
    description_en = "Which programs start together with the PC or at sign-in."
    platforms = frozenset({"linux", "windows"})
    columns = schema(
        name="string",
        executable="string",
        location="category",
        scope="category",
        enabled="boolean",
    )
    never_collect = ("arguments of autostart commands", "contents of the started programs")
    timeout = 10.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        if ctx.platform == "windows":
            tree: RegTree = {}
            for key in [*RUN_KEYS, rf"HKLM\{APPROVED}", rf"HKCU\{APPROVED}"]:
                with ctx.attempt(f"registry {key}"):
                    tree |= read_registry(key, depth=0)
            yield from autostart_from_registry(tree)
            yield from _startup_folders(ctx)
            return
        yield from _xdg_autostart(ctx)
        yield from _cron_reboot(ctx)


def _startup_folders(ctx: ProbeContext) -> Iterator[Record]:
    start = r"Microsoft\Windows\Start Menu\Programs\Startup"
    for scope, base in (("user", "APPDATA"), ("machine", "ProgramData")):
        root = os.environ.get(base)
        folder = Path(root, start) if root else None
        if folder is None or not folder.is_dir():
            continue
        with ctx.attempt(f"startup folder ({scope})"):
            for item in sorted(folder.iterdir()):
                if item.name.lower() != "desktop.ini":
                    yield _entry(item.stem, item.name, "startup-folder", scope, True)


def _entry(name: str, exe: str | None, location: str, scope: str, enabled: bool | None) -> Record:
    return {
        "name": name,
        "executable": redact_text(exe) if exe else None,
        "location": location,
        "scope": scope,
        "enabled": enabled,
    }


def _xdg_autostart(ctx: ProbeContext) -> Iterator[Record]:
    folders = {"machine": Path("/etc/xdg/autostart"), "user": Path.home() / ".config/autostart"}
    for scope, folder in folders.items():
        if not folder.is_dir():
            continue
        for desktop in sorted(folder.glob("*.desktop")):
            with ctx.attempt(str(desktop)):
                fields = parse_desktop_entry(desktop.read_text(encoding="utf-8", errors="replace"))
                hidden = fields.get("Hidden", "false").lower() == "true"
                exe = command_executable(fields.get("Exec", ""))
                yield _entry(
                    fields.get("Name") or desktop.stem, exe, "xdg-autostart", scope, not hidden
                )


def _cron_reboot(ctx: ProbeContext) -> Iterator[Record]:
    paths = [Path("/etc/crontab"), *sorted(Path("/etc/cron.d").glob("*"))]
    for path in paths:
        if not path.is_file():
            continue
        with ctx.attempt(str(path)):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                cols = line.split()
                if cols and cols[0] == "@reboot" and len(cols) >= 3:
                    yield _entry(
                        path.name, command_executable(" ".join(cols[2:])), "cron", "machine", True
                    )
