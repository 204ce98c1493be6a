"""The printers probe: installed printers, the default one, and their state."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final

from zvkdiag.probes.base import Probe, ProbeContext, Record, schema
from zvkdiag.probes.redact import redact_text
from zvkdiag.probes.winformats import int_or_none, powershell_json, text_or_none

__all__ = ["PrintersProbe", "parse_lpstat", "printers_from_cim"]

_PRINTERS_PS: Final = (
    "Get-CimInstance Win32_Printer | Select-Object Name,DriverName,PortName,Default,Shared,"
    "WorkOffline,PrinterStatus | ConvertTo-Json"
)
_PRINTER_STATUS: Final = {1: "other", 2: "unknown", 3: "idle", 4: "printing", 5: "warmup",
                          6: "stopped", 7: "offline"}  # fmt: skip


def _printer(name: str, driver: str | None, port: str | None, **flags: object) -> Record:
    shared, status = flags.get("shared"), flags.get("status")
    return {
        "name": name,
        "driver": driver,
        "port": redact_text(port) if port else None,  # smb://user:pass@host/queue happens
        "is_default": flags.get("is_default") is True,
        "shared": shared if isinstance(shared, bool) else None,
        "status": status if isinstance(status, str) else None,
    }


def printers_from_cim(items: list[Mapping[str, object]]) -> Iterator[Record]:
    """Printers from ``Win32_Printer`` JSON."""
    for item in items:
        name = text_or_none(item.get("Name"))
        if not name:
            continue
        code = int_or_none(item.get("PrinterStatus"))
        status = "offline" if item.get("WorkOffline") is True else _PRINTER_STATUS.get(code or 2)
        yield _printer(
            name,
            text_or_none(item.get("DriverName")),
            text_or_none(item.get("PortName")),
            is_default=item.get("Default") is True,
            shared=item.get("Shared"),
            status=status,
        )


def parse_lpstat(text: str) -> Iterator[Record]:
    """Printers from ``lpstat -p -v -d`` (CUPS), in the C locale."""
    devices = dict(re.findall(r"^device for (\S+): (\S+)", text, re.MULTILINE))
    states = dict(re.findall(r"^printer (\S+) (?:is |now )?(\w+)", text, re.MULTILINE))
    default = re.search(r"^system default destination: (\S+)", text, re.MULTILINE)
    for name in sorted(set(devices) | set(states)):
        state = states.get(name)
        yield _printer(
            name,
            None,
            devices.get(name),
            is_default=bool(default and default.group(1) == name),
            status={"disabled": "stopped"}.get(state or "", state),
        )


class PrintersProbe(Probe):
    name = "printers"
    title_de = "Drucker"
    title_en = "Printers"
    description_de = (
        "Welche Drucker eingerichtet sind, welcher der Standarddrucker ist und ihr Zustand."
    )
    description_en = "Which printers are set up, which one is the default, and their state."
    platforms = frozenset({"linux", "windows", "darwin"})
    columns = schema(
        name="string",
        driver="string",
        port="string",
        is_default="bool",
        shared="boolean",
        status="category",
    )
    never_collect = ("print jobs and document names", "printer passwords")
    timeout = 15.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        if ctx.platform == "windows":
            yield from printers_from_cim(powershell_json(ctx, _PRINTERS_PS))
            return
        out = ctx.run(["lpstat", "-p", "-v", "-d"], ok_codes=(0, 1))
        if out is not None:
            yield from parse_lpstat(out)
