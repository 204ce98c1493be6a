"""Probe results on the wire: bounded JSON with a schema header, typed DataFrames on arrival.

Why JSON and not Arrow IPC: results are small (hundreds of rows), the
customer's preview and the audit log can show exactly the bytes that leave
the machine, and the engineer side parses untrusted input with the plain
``json`` module and checks every value against the declared dtype before
pandas sees it -- a far smaller surface than an IPC reader.  Dtypes are
applied on the engineer side from the probe's declaration, so the wire only
has to carry JSON-native values: numbers as numbers, timestamps as ISO 8601
UTC strings.

Layout (one JSON object, UTF-8)::

    {"v": 1, "probe": "processes", "columns": [["pid", "Int64"], ...],
     "warnings": [...], "elapsed": 0.21, "timed_out": false, "dropped": 0,
     "rows": [[1, 0, "systemd", ...], ...]}
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from zvkdiag._errors import ProtocolError
from zvkdiag.consent.messages import text
from zvkdiag.probes.base import Probe
from zvkdiag.probes.registry import DEFAULT_REGISTRY, ProbeRegistry
from zvkdiag.probes.runner import ProbeResult

if TYPE_CHECKING:  # pandas is the engineer's: the customer program (encode side) ships without it
    import pandas as pd

__all__ = ["MAX_RESULT_BYTES", "WIRE_VERSION", "decode_result", "encode_result", "preview_text"]

WIRE_VERSION: Final = 1
MAX_RESULT_BYTES: Final = 16 * 1024 * 1024
"""Largest encoded result; ``encode_result`` drops trailing rows to stay below it."""
MAX_WARNINGS: Final = 100
_INT64 = (-(2**63), 2**63 - 1)
_HEADER_KEYS: Final = {
    "v",
    "probe",
    "columns",
    "warnings",
    "elapsed",
    "timed_out",
    "dropped",
    "rows",
}


def _wire_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_result(
    result: ProbeResult,
    *,
    registry: ProbeRegistry = DEFAULT_REGISTRY,
    max_bytes: int = MAX_RESULT_BYTES,
) -> bytes:
    """Encode ``result`` for the SSH channel, never larger than ``max_bytes``.

    Rows that do not fit are dropped from the end; ``dropped`` and a
    warning say how many, so the engineer knows the table is incomplete.
    """
    probe = registry.get(result.probe)
    columns = list(probe.columns.items())
    rows = [_dumps([_wire_value(r.get(c)) for c, _ in columns]) for r in result.records]
    warnings = list(result.warnings)[:MAX_WARNINGS]
    head = {
        "v": WIRE_VERSION,
        "probe": probe.name,
        "columns": [list(c) for c in columns],
        "elapsed": round(result.elapsed, 6),
        "timed_out": result.timed_out,
    }
    budget = max_bytes - len(_dumps(head).encode()) - len(_dumps(warnings).encode()) - 200
    kept, used = 0, 0
    for row in rows:
        size = len(row.encode()) + 1
        if used + size > budget:
            break
        kept, used = kept + 1, used + size
    if kept < len(rows):
        warnings.append(f"{len(rows) - kept} rows left out: the result was over {max_bytes} bytes")
    body = _dumps({**head, "warnings": warnings, "dropped": len(rows) - kept})
    return (body[:-1] + ',"rows":[' + ",".join(rows[:kept]) + "]}").encode()


def decode_result(
    data: bytes, probe: type[Probe], *, max_bytes: int = MAX_RESULT_BYTES
) -> tuple[pd.DataFrame, list[str]]:
    """The engineer's side: bytes from the agent -> (DataFrame with declared dtypes, warnings).

    Raises ``ProtocolError`` for anything that is not a well-formed result of
    exactly this probe's declared columns.
    """
    if len(data) > max_bytes:
        raise ProtocolError(
            f"The {probe.name!r} result is {len(data)} bytes, over the limit of {max_bytes}."
        )
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"The {probe.name!r} result is not valid JSON: {exc}") from exc
    header = _check_header(obj, probe)
    frame = _frame(probe, header.rows)
    warnings = [str(w) for w in header.warnings]
    frame.attrs.update(
        probe=probe.name,
        warnings=warnings,
        elapsed=header.elapsed,
        timed_out=header.timed_out,
    )
    return frame, warnings


@dataclass(frozen=True)
class _Header:
    rows: list[object]
    warnings: list[object]
    elapsed: float
    timed_out: bool


def _check_header(obj: object, probe: type[Probe]) -> _Header:
    if not isinstance(obj, dict) or set(obj) != _HEADER_KEYS:
        raise ProtocolError(f"The {probe.name!r} result does not have the v1 layout.")
    if obj["v"] != WIRE_VERSION:
        raise ProtocolError(
            f"The agent sent result version {obj['v']!r}; this side speaks {WIRE_VERSION}."
        )
    if obj["probe"] != probe.name:
        raise ProtocolError(f"Asked for probe {probe.name!r} but got a result of {obj['probe']!r}.")
    if obj["columns"] != [list(c) for c in probe.columns.items()]:
        raise ProtocolError(
            f"The agent's {probe.name!r} probe declares other columns than this side: "
            "the two zvkdiag versions differ."
        )
    rows, warnings, elapsed, timed_out = (
        obj[k] for k in ("rows", "warnings", "elapsed", "timed_out")
    )
    if not isinstance(rows, list) or not isinstance(warnings, list):
        raise ProtocolError(f"The {probe.name!r} result has no list of rows or warnings.")
    if not isinstance(elapsed, int | float) or not isinstance(timed_out, bool):
        raise ProtocolError(f"The {probe.name!r} result has a malformed header.")
    return _Header(rows=rows, warnings=warnings, elapsed=float(elapsed), timed_out=timed_out)


def _frame(probe: type[Probe], rows: list[object]) -> pd.DataFrame:
    import pandas as pd

    width = len(probe.columns)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise ProtocolError(
                f"Row {i} of the {probe.name!r} result does not have {width} values."
            )
    series = {}
    for index, (column, dtype) in enumerate(probe.columns.items()):
        values = [row[index] for row in rows]  # type: ignore[index]
        try:
            series[column] = _column(dtype, values)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ProtocolError(f"Column {column!r} of the {probe.name!r} result: {exc}") from exc
    return pd.DataFrame(series, columns=list(probe.columns))


def _column(dtype: str, values: list[object]) -> pd.Series:
    """One column with exactly ``dtype``; every value's JSON kind is checked first."""
    import pandas as pd

    present = [v for v in values if v is not None]
    if dtype in ("string", "category", "datetime64[ns, UTC]"):
        _require(present, lambda v: isinstance(v, str), "text")
    elif dtype == "Int64":
        _require(
            present, lambda v: type(v) is int and _INT64[0] <= v <= _INT64[1], "64-bit integers"
        )
    elif dtype == "float64":
        _require(present, lambda v: type(v) in (int, float), "numbers")
    elif dtype in ("bool", "boolean"):
        _require(
            values if dtype == "bool" else present, lambda v: isinstance(v, bool), "true/false"
        )
    if dtype == "float64":
        return pd.Series(np.array([np.nan if v is None else v for v in values], dtype="float64"))
    if dtype == "bool":
        return pd.Series(np.array(values, dtype=bool))
    if dtype == "category":
        return pd.Series(pd.Categorical(values))
    if dtype == "datetime64[ns, UTC]":
        stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
        return stamps.astype("datetime64[ns, UTC]")
    data: Any = values  # kinds checked above; pandas' stubs cannot follow that
    return pd.Series(pd.array(data, dtype=dtype))


def _require(values: Sequence[object], ok: Callable[[object], bool], kind: str) -> None:
    for value in values:
        if not ok(value):
            raise ValueError(f"expected {kind}, got {value!r:.40}")


def preview_text(
    result: ProbeResult,
    lang: str = "de",
    *,
    registry: ProbeRegistry = DEFAULT_REGISTRY,
    max_rows: int = 200,
    max_cell: int = 40,
) -> str:
    """What the customer reads before "Senden" / "Nicht senden" for a sensitive probe.

    The rows shown are the records that will be encoded, after redaction.
    """
    probe = registry.get(result.probe)
    title = probe.title_de if lang == "de" else probe.title_en
    lines = [
        text("preview.title", lang, title=title),
        text("preview.intro", lang, rows=len(result.records)),
        "",
    ]
    columns = list(probe.columns)
    if result.records:
        lines.append(" | ".join(columns))
        for record in result.records[:max_rows]:
            lines.append(" | ".join(_cell(record.get(c), max_cell) for c in columns))
        if len(result.records) > max_rows:
            lines.append(text("preview.more", lang, count=len(result.records) - max_rows))
    else:
        lines.append(text("preview.empty", lang))
    if result.warnings:
        lines += ["", text("preview.warnings", lang), *(f"- {w}" for w in result.warnings)]
    lines += ["", text("preview.question", lang)]
    return "\n".join(lines)


def _cell(value: object, width: int) -> str:
    if value is None:
        return "–"
    shown = _wire_value(value)
    out = str(shown)
    return out if len(out) <= width else out[: width - 1] + "…"
