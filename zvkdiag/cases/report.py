"""The case report: one self-contained HTML file a colleague can open anywhere.

Every piece of case data is escaped before it meets markup: table cells and
headers through pandas' ``to_html(escape=True)``, everything else through
:func:`html.escape`.  Screenshots are embedded as ``data:`` URIs of the stored
PNG bytes, so the report needs no network and no neighbouring files.  The
report shows what the store holds, i.e. pseudonymised data.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zvkdiag.cases.atomic import atomic_write_bytes
from zvkdiag.cases.manifest import Finding

if TYPE_CHECKING:
    from zvkdiag.cases.case import Case

__all__ = ["TABLE_HEAD_ROWS", "render_report", "write_report"]

TABLE_HEAD_ROWS = 20
"""Rows per table in the report; the Parquet file has the rest."""

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
h1{font-size:1.4rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;vertical-align:top}
.ok{background:#e3f5e1}.warning{background:#fff4d6}.problem{background:#fbe0e0}
.badge{font-weight:bold;text-transform:uppercase}
img{max-width:100%;border:1px solid #ccc;margin:.5rem 0}
code{font-size:.8rem;word-break:break-all}
"""


def write_report(case: Case, path: Path) -> Path:
    """Render ``case`` and write the HTML atomically to ``path``."""
    return atomic_write_bytes(path, render_report(case).encode("utf-8"))


def render_report(case: Case) -> str:
    """The whole report as one HTML string."""
    m = case.manifest
    title = f"Case {m.case_id}: {m.reference}"
    body = [
        f"<h1>{escape(title)}</h1>",
        _summary(case),
        "<h2>Findings</h2>",
        _findings(m.findings),
        "<h2>Tables</h2>",
        _tables(case),
        "<h2>Screenshots</h2>",
        _screenshots(case.screenshots()),
        "<h2>Audit trail</h2>",
        _audit(case.audit()),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _kv_table(rows: Iterable[tuple[str, object]]) -> str:
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _summary(case: Case) -> str:
    m = case.manifest
    rows: list[tuple[str, object]] = [
        ("Case ID", m.case_id),
        ("Reference", m.reference),
        ("Engineer", m.engineer),
        ("Opened (UTC)", m.created.isoformat(timespec="seconds")),
        ("Closed (UTC)", m.closed.isoformat(timespec="seconds") if m.closed else "still open"),
        *((f"Platform: {k}", v) for k, v in m.platform.items()),
    ]
    counts = {s: sum(f.status.value == s for f in m.findings) for s in ("ok", "warning", "problem")}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items())
    return _kv_table([*rows, ("Findings", tally)])


def _findings(findings: Iterable[Finding]) -> str:
    rows = [
        f'<tr class="{f.status.value}"><td class="badge">{escape(f.status.value)}</td>'
        f"<td>{escape(f.step)}</td><td>{escape(f.text)}</td>"
        f"<td>{escape(f.ts.isoformat(timespec='seconds'))}</td></tr>"
        for f in findings
    ]
    if not rows:
        return "<p>No findings recorded.</p>"
    head = "<tr><th>Status</th><th>Step</th><th>Finding</th><th>Time (UTC)</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _tables(case: Case) -> str:
    parts = []
    for name in case.table_names():
        df = case.table(name)
        parts.append(
            f"<h3>{escape(name)}</h3><p>{len(df)} rows, showing up to {TABLE_HEAD_ROWS}.</p>"
        )
        parts.append(
            df.head(TABLE_HEAD_ROWS).to_html(escape=True, index=False, border=0, na_rep="–")
        )
    return "\n".join(parts) or "<p>No tables.</p>"


def _screenshots(paths: Iterable[Path]) -> str:
    parts = []
    for path in paths:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        name = escape(path.name)
        parts.append(
            f'<figure><img alt="{name}" src="data:image/png;base64,{data}">'
            f"<figcaption>{name}</figcaption></figure>"
        )
    return "\n".join(parts) or "<p>No screenshots.</p>"


def _audit(records: list[dict[str, Any]]) -> str:
    if not records:
        return "<p>No audit records mirrored.</p>"
    head = "<tr><th>#</th><th>Time</th><th>Kind</th><th>Details</th></tr>"
    rows = []
    for rec in records:
        rest = {k: v for k, v in rec.items() if k not in ("seq", "ts", "kind", "prev", "hash")}
        detail = json.dumps(rest, ensure_ascii=False, sort_keys=True)
        rows.append(
            f"<tr><td>{escape(str(rec.get('seq')))}</td><td>{escape(str(rec.get('ts')))}"
            f"</td><td>{escape(str(rec.get('kind')))}</td>"
            f"<td><code>{escape(detail)}</code></td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"
