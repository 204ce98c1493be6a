from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pandas as pd
from PIL import Image

from zvkdiag.cases import CaseStore

EVIL = "<script>alert('x')</script>"
EVIL_ESCAPED = "&lt;script&gt;"


def _evil_case(store: CaseStore) -> Path:
    case = store.new_case(reference=f"ref {EVIL}", engineer="Erika <b>Muster</b>")
    case.set_platform({"os": EVIL})
    case.add_table("software", pd.DataFrame({"name": [EVIL, "ok"], f"col{EVIL}": [1, 2]}))
    case.finding("step <i>1</i>", "problem", f"found {EVIL}")
    case.finding("disk", "ok", "fine")
    case.add_audit(
        [{"seq": 0, "ts": "t<br>", "kind": "command", "prev": None, "argv": ["cmd", EVIL]}]
    )
    case.add_screenshot(Image.new("RGB", (3, 2), "blue"))
    return case.report()


def test_report_escapes_every_piece_of_case_data(store: CaseStore) -> None:
    html = _evil_case(store).read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "<b>Muster" not in html and "<i>1</i>" not in html and "t<br>" not in html
    # Each place the payload was put shows up escaped: reference (title and summary),
    # platform, table cell, table header, finding, audit record.
    assert html.count(EVIL_ESCAPED) >= 7


def test_report_contains_findings_tables_screenshots_and_audit(store: CaseStore) -> None:
    path = _evil_case(store)
    html = path.read_text(encoding="utf-8")
    assert path.name == "report.html"
    assert '<tr class="problem">' in html and '<tr class="ok">' in html
    assert "1 ok, 0 warning, 1 problem" in html
    assert "<h3>software</h3>" in html and "2 rows" in html
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert match is not None
    assert Image.open(io.BytesIO(base64.b64decode(match.group(1)))).size == (3, 2)
    assert "Audit trail" in html and "command" in html
    assert "default-src 'none'" in html  # no network even if something slipped through


def test_report_to_a_chosen_path_and_for_an_empty_case(store: CaseStore, tmp_path: Path) -> None:
    case = store.new_case(reference="empty", engineer="e")
    out = case.report(tmp_path / "r.html")
    html = out.read_text(encoding="utf-8")
    assert out == tmp_path / "r.html"
    for text in ("No findings recorded.", "No tables.", "No screenshots.", "No audit records"):
        assert text in html
