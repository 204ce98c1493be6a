"""The time_sync probe: is the clock synchronised, from where, how far off.

``w32tm /query /status`` prints localised labels and dates; the German and
English forms are both understood (the customers' PCs run German Windows).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Final

from zvkdiag.probes.base import Probe, ProbeContext, Record, schema
from zvkdiag.probes.winformats import int_or_none

__all__ = ["TimeSyncProbe", "parse_timedatectl", "parse_w32tm_status"]

_W32TM_LABELS: Final = {
    "leap": ("Leap Indicator", "Sprungindikator"),
    "stratum": ("Stratum",),
    "last_sync": ("Last Successful Sync Time", "Letzte erfolgreiche Synchronisierungszeit"),
    "source": ("Source", "Quelle"),
    "poll": ("Poll Interval", "Abrufintervall"),
    "offset": ("Phase Offset", "Phasenoffset"),
}
_UNSYNCED_SOURCES: Final = ("local cmos clock", "lokale cmos-uhr", "free-running system clock")
_DATE_FORMATS: Final = ("%d.%m.%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S")


def parse_w32tm_status(text: str, *, local_tz: dt.tzinfo) -> Record:
    """Fields of ``w32tm /query /status [/verbose]`` (German or English Windows)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        label, sep, value = line.partition(":")
        for key, names in _W32TM_LABELS.items():
            if sep and label.strip() in names:
                found[key] = value.strip()
    source = found.get("source", "").split(",")[0].strip() or None  # "time.windows.com,0x9"
    leap = int_or_none((found.get("leap") or "").split("(")[0].strip())
    unsynced = leap == 3 or (source or "").lower() in _UNSYNCED_SOURCES
    poll = re.search(r"\((\d+)s\)", found.get("poll", ""))
    offset = re.match(r"^(-?[\d.,]+)s", found.get("offset", ""))
    return {
        "source": source,
        "synchronized": None if source is None and leap is None else not unsynced,
        "stratum": int_or_none((found.get("stratum") or "").split("(")[0].strip()),
        "offset_seconds": float(offset.group(1).replace(",", ".")) if offset else None,
        "last_sync": _local_time(found.get("last_sync", ""), local_tz),
        "poll_interval_seconds": int(poll.group(1)) if poll else None,
    }


def _local_time(text: str, tz: dt.tzinfo) -> dt.datetime | None:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).replace(tzinfo=tz).astimezone(dt.UTC)
        except ValueError:
            continue
    return None


def parse_timedatectl(text: str) -> dict[str, str]:
    """``timedatectl show`` / ``show-timesync``: KEY=value lines."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


class TimeSyncProbe(Probe):
    name = "time_sync"
    title_de = "Uhrzeit-Abgleich"
    title_en = "Time synchronisation"
    description_de = (
        "Ob die Uhr des PCs mit einem Zeitserver abgeglichen wird, mit welchem, und wann zuletzt."
    )
    description_en = (
        "Whether the PC's clock is synchronised with a time server, which one, and when."
    )
    platforms = frozenset({"linux", "windows"})
    columns = schema(
        source="string",
        synchronized="boolean",
        stratum="Int64",
        offset_seconds="float64",
        last_sync="datetime64[ns, UTC]",
        poll_interval_seconds="Int64",
        timezone="string",
        system_time="datetime64[ns, UTC]",
    )
    never_collect = ("anything but clock settings",)
    timeout = 10.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        local_tz = dt.datetime.now().astimezone().tzinfo or dt.UTC
        row: Record = {
            "source": None,
            "synchronized": None,
            "stratum": None,
            "offset_seconds": None,
            "last_sync": None,
            "poll_interval_seconds": None,
        }
        if ctx.platform == "windows":
            out = ctx.run(["w32tm", "/query", "/status", "/verbose"])
            if out is not None:
                row |= parse_w32tm_status(out, local_tz=local_tz)
        else:
            row |= self._linux(ctx)
        yield row | {
            "timezone": _tz_name(ctx, local_tz),
            "system_time": dt.datetime.now(dt.UTC),
        }

    def _linux(self, ctx: ProbeContext) -> Record:
        out = ctx.run(["timedatectl", "show"])
        if out is None:
            return {}
        fields = parse_timedatectl(out)
        sync = (
            (ctx.run(["timedatectl", "show-timesync"]) or "") if fields.get("NTP") == "yes" else ""
        )
        server = parse_timedatectl(sync).get("ServerName") or None
        return {"source": server, "synchronized": fields.get("NTPSynchronized") == "yes"}


def _tz_name(ctx: ProbeContext, local_tz: dt.tzinfo) -> str | None:
    if ctx.platform == "linux":
        try:
            with open("/etc/timezone", encoding="utf-8") as handle:
                return handle.read().strip() or None
        except OSError:
            pass
    return local_tz.tzname(dt.datetime.now()) or None
