"""The event_log probe: errors and warnings of the last N hours.

Windows: ``wevtutil qe`` on the System and Application logs (readable without
admin rights; the Security log is not, and is not asked for) with
``/f:RenderedXml`` so the message text comes along.  Linux: ``journalctl -o
json``.  Messages pass through ``redact_text`` and are cut to ``MAX_MESSAGE``.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET  # local OS output; expat >= 2.4 refuses entity bombs
from collections.abc import Iterator
from typing import Final

from zvkdiag.probes.base import Parameter, Probe, ProbeContext, Record, schema, utc_from_timestamp
from zvkdiag.probes.redact import redact_text
from zvkdiag.probes.winformats import int_or_none, parse_ps_datetime, text_or_none

__all__ = ["EventLogProbe", "parse_journal_json", "parse_wevtutil_xml", "wevtutil_query"]

MAX_MESSAGE: Final = 2000
WINDOWS_LOGS: Final = ("System", "Application")
_NS: Final = {"e": "http://schemas.microsoft.com/win/2004/08/events/event"}
_WIN_LEVELS: Final = {1: "critical", 2: "error", 3: "warning", 4: "information", 0: "information"}
_JOURNAL_LEVELS: Final = {0: "critical", 1: "critical", 2: "critical", 3: "error", 4: "warning"}


def wevtutil_query(hours: float) -> str:
    """The XPath filter: critical, error and warning events newer than ``hours``."""
    ms = int(hours * 3_600_000)
    return (
        f"*[System[(Level=1 or Level=2 or Level=3) and TimeCreated[timediff(@SystemTime) <= {ms}]]]"
    )


def parse_wevtutil_xml(text: str) -> Iterator[Record]:
    """Events from ``wevtutil qe <log> /f:xml`` or ``/f:RenderedXml`` output.

    wevtutil prints one ``<Event>`` element after another without a root, so
    the text is wrapped before parsing.
    """
    body = text.strip().lstrip("\ufeff")
    if not body:
        return
    root = ET.fromstring(f"<Events>{body}</Events>")  # noqa: S314
    for event in root.findall("e:Event", _NS):
        system = event.find("e:System", _NS)
        if system is None:
            continue
        provider = system.find("e:Provider", _NS)
        created = system.find("e:TimeCreated", _NS)
        level = int_or_none(_text(system, "e:Level"))
        message = _text(event, "e:RenderingInfo/e:Message") or _event_data(event)
        yield {
            "time": parse_ps_datetime(created.get("SystemTime") if created is not None else None),
            "log": _text(system, "e:Channel"),
            "level": _WIN_LEVELS.get(level or 0, "information"),
            "source": provider.get("Name") if provider is not None else None,
            "event_id": int_or_none(_text(system, "e:EventID")),
            "message": _clean(message),
        }


def _text(node: ET.Element, path: str) -> str | None:
    found = node.find(path, _NS)
    return text_or_none(found.text) if found is not None else None


def _event_data(event: ET.Element) -> str | None:
    """Without a rendered message, the EventData values joined are the next best thing."""
    parts = [
        f"{d.get('Name')}={d.text}" if d.get("Name") else (d.text or "")
        for d in event.findall("e:EventData/e:Data", _NS)
        if d.text
    ]
    return "; ".join(parts) or None


def _clean(message: str | None) -> str | None:
    if not message:
        return None
    text = redact_text(" ".join(message.split()))
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def parse_journal_json(text: str) -> Iterator[Record]:
    """Entries from ``journalctl -o json`` (one JSON object a line)."""
    for line in text.splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if not isinstance(entry, dict):
            continue
        micros = int_or_none(entry.get("__REALTIME_TIMESTAMP"))
        priority = int_or_none(entry.get("PRIORITY"))
        yield {
            "time": utc_from_timestamp(micros / 1e6) if micros is not None else None,
            "log": "journal",
            "level": _JOURNAL_LEVELS.get(priority if priority is not None else 4, "warning"),
            "source": text_or_none(entry.get("SYSLOG_IDENTIFIER") or entry.get("_SYSTEMD_UNIT")),
            "event_id": None,
            "message": _clean(_journal_message(entry.get("MESSAGE"))),
        }


def _journal_message(value: object) -> str | None:
    if isinstance(value, list):  # journald sends non-UTF-8 messages as byte arrays
        return bytes(v for v in value if isinstance(v, int) and 0 <= v < 256).decode(
            "utf-8", errors="replace"
        )
    return value if isinstance(value, str) else None


class EventLogProbe(Probe):
    name = "event_log"
    title_de = "Ereignisprotokoll"
    title_en = "Event log"
    description_de = (
        "Fehler und Warnungen, die Windows und Programme in den letzten Stunden protokolliert "
        "haben. Kennwörter in den Meldungen werden unkenntlich gemacht; Sie sehen die Daten "
        "vor dem Senden."
    )
    description_en = (
        "Errors and warnings that the system and programs logged in the last hours. Passwords "
        "in the messages are masked; you see the data before it is sent."
    )
    platforms = frozenset({"linux", "windows"})
    sensitive = True
    columns = schema(
        time="datetime64[ns, UTC]",
        log="category",
        level="category",
        source="string",
        event_id="Int64",
        message="string",
    )
    never_collect = (
        "the Security log (sign-in attempts)",
        "informational events",
        "password-like values inside messages",
    )
    timeout = 30.0
    parameters = (
        Parameter("hours", "float", 24.0, "look back this many hours", minimum=0.1, maximum=720),
        Parameter("max_events", "int", 500, "newest events per log", minimum=1, maximum=10_000),
    )

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        hours = float(ctx.params.get("hours", 24.0))  # type: ignore[arg-type]
        count = int(ctx.params.get("max_events", 500))  # type: ignore[call-overload]
        if ctx.platform == "windows":
            found = 0
            for log in WINDOWS_LOGS:
                argv = ["wevtutil", "qe", log, f"/q:{wevtutil_query(hours)}", "/f:RenderedXml"]
                out = ctx.run([*argv, "/rd:true", f"/c:{count}"], timeout=25.0)
                found += len(out or "")
                with ctx.attempt(f"{log} log"):
                    yield from parse_wevtutil_xml(out or "")
            if not found and not ctx.run(["wevtutil", "gli", WINDOWS_LOGS[0]]):
                # a real wevtutil always describes the log; Wine's stub prints nothing
                ctx.warn(f"wevtutil says nothing about the {WINDOWS_LOGS[0]} log: no events read")
            return
        since = int(time.time() - hours * 3600)
        argv = ["journalctl", f"--since=@{since}", "-p", "warning", "-o", "json"]
        out = ctx.run([*argv, "-n", str(count), "-r", "--no-pager"], timeout=25.0)
        if out is not None and not out.strip():
            ctx.warn(f"the journal holds no warnings or errors of the last {hours:g} hours")
        with ctx.attempt("journal"):
            yield from parse_journal_json(out or "")
