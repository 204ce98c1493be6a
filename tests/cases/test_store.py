from __future__ import annotations

import io
import json
import threading
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from zvkdiag._errors import CaseStoreError
from zvkdiag.cases import Case, CaseStore, Status
from zvkdiag.cases.atomic import TEMP_PREFIX
from zvkdiag.cases.pseudonym import KEY_FILE
from zvkdiag.testing.clock import FixedClock


def _frame(users: list[str], ns: list[int | None], cats: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": users,
            "n": pd.array(ns, dtype="Int64"),
            "kind": pd.Categorical(cats),
            "seen": pd.date_range("2026-11-01", periods=len(users), freq="h", tz="Europe/Berlin"),
        }
    )


def test_new_case_layout_and_manifest(store: CaseStore, clock: FixedClock, t0: datetime) -> None:
    case = store.new_case(reference="ZVK-2026-0042", engineer="Erika Muster")
    assert case.case_id.startswith("2026-11-25T142305-")
    assert {p.name for p in case.path.iterdir()} == {
        "manifest.json",
        "tables",
        "screenshots",
        "files",
    }
    raw = json.loads((case.path / "manifest.json").read_text())
    assert raw["reference"] == "ZVK-2026-0042"
    assert raw["engineer"] == "Erika Muster"
    assert raw["created"] == t0.isoformat()
    assert raw["schema_version"] == 1
    clock.advance(timedelta(minutes=5))
    case.close()
    case.close()
    assert store.open(case.case_id).manifest.closed == t0 + timedelta(minutes=5)


def test_case_ids_sort_by_creation_and_are_unique(store: CaseStore, clock: FixedClock) -> None:
    ids = []
    for _ in range(3):
        ids.append(store.new_case(reference="r", engineer="e").case_id)
        clock.advance(timedelta(seconds=1))
    same_second = [store.new_case(reference="r", engineer="e").case_id for _ in range(5)]
    assert ids == sorted(ids)
    assert len(set(ids + same_second)) == 8
    assert store.case_ids() == sorted(ids + same_second)


def test_table_across_cases_keeps_dtypes(store: CaseStore, clock: FixedClock, t0: datetime) -> None:
    a = store.new_case(reference="a", engineer="e")
    a.add_table("software", _frame(["anna", "bob"], [1, None], ["app", "driver"]))
    clock.advance(timedelta(hours=1))
    b = store.new_case(reference="b", engineer="e")
    b.add_table("software", _frame(["carl"], [7], ["update"]).assign(extra=1.5))

    df = store.table("software")
    assert list(df.columns[:1]) == ["case_id"]
    assert df["case_id"].tolist() == [a.case_id, a.case_id, b.case_id]
    assert df["n"].dtype == "Int64" and df["n"].isna().tolist() == [False, True, False]
    assert isinstance(df["kind"].dtype, pd.CategoricalDtype)
    assert set(df["kind"].cat.categories) == {"app", "driver", "update"}
    assert str(df["seen"].dt.tz) == "Europe/Berlin"
    assert str(df["collected_at"].dt.tz) == "UTC"
    assert df["collected_at"].tolist() == [pd.Timestamp(t0)] * 2 + [
        pd.Timestamp(t0 + timedelta(hours=1))
    ]
    assert df["extra"].isna().tolist() == [True, True, False]


def test_second_add_appends_rows_with_their_own_collected_at(
    store: CaseStore, clock: FixedClock
) -> None:
    case = store.new_case(reference="r", engineer="e")
    case.add_table("updates", pd.DataFrame({"kb": ["KB1"], "ok": [False]}))
    clock.advance(timedelta(minutes=10))
    case.add_table("updates", pd.DataFrame({"kb": ["KB1"], "ok": [True]}))
    df = case.table("updates")
    assert df["ok"].tolist() == [False, True]
    assert df["collected_at"].diff().iloc[1] == timedelta(minutes=10)


def test_append_with_conflicting_schema_changes_nothing(store: CaseStore) -> None:
    case = store.new_case(reference="r", engineer="e")
    path = case.add_table("t", pd.DataFrame({"n": pd.array([1], dtype="Int64")}))
    before = path.read_bytes()
    with pytest.raises(CaseStoreError, match="Parquet"):
        case.add_table("t", pd.DataFrame({"n": [object()]}))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["t.parquet"]


def test_sql_over_all_cases(store: CaseStore, clock: FixedClock) -> None:
    for i in range(3):
        case = store.new_case(reference=f"r{i}", engineer="e")
        case.add_table("software", _frame(["x"] * (i + 1), [i] * (i + 1), ["app"] * (i + 1)))
        case.finding("disk", ["ok", "warning", "problem"][i], f"step {i}")
        clock.advance(timedelta(minutes=1))
    counts = store.sql(
        "SELECT c.reference, count(*) AS n FROM software s JOIN cases c USING (case_id) "
        "GROUP BY ALL ORDER BY 1"
    )
    assert counts.to_dict("list") == {"reference": ["r0", "r1", "r2"], "n": [1, 2, 3]}
    worst = store.sql("SELECT case_id FROM findings WHERE status = 'problem'")
    assert worst["case_id"].tolist() == [store.case_ids()[2]]
    seen = store.sql("SELECT seen FROM software LIMIT 1")["seen"]
    assert seen.dt.tz is not None


def test_sql_errors_are_case_store_errors(store: CaseStore) -> None:
    with pytest.raises(CaseStoreError, match="query failed"):
        store.sql("SELECT * FROM no_such_table")


def test_unknown_table_lists_what_exists(store: CaseStore) -> None:
    store.new_case(reference="r", engineer="e").add_table("os", pd.DataFrame({"a": [1]}))
    with pytest.raises(CaseStoreError, match=r"\['os'\]"):
        store.table("software")


@pytest.mark.parametrize("name", ["../x", "Software", "a/b", "", "cases", "x" * 64, "1abc"])
def test_bad_table_names_write_nothing(store: CaseStore, name: str) -> None:
    case = store.new_case(reference="r", engineer="e")
    with pytest.raises(CaseStoreError, match=r"table name|reserved"):
        case.add_table(name, pd.DataFrame({"a": [1]}))
    assert list((case.path / "tables").iterdir()) == []


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", ".hidden", "a/b", "a\\b", "", "c:x", " x", "a\x00b"]
)
def test_bad_file_names_write_nothing(store: CaseStore, name: str) -> None:
    case = store.new_case(reference="r", engineer="e")
    with pytest.raises(CaseStoreError, match="file name"):
        case.add_file(name, b"data")
    assert list(case.files_dir.iterdir()) == []


def test_files_are_stored_once(store: CaseStore, tmp_path: Path) -> None:
    case = store.new_case(reference="r", engineer="e")
    src = tmp_path / "log.txt"
    src.write_bytes(b"line\n" * 1000)
    case.add_file("log.txt", src)
    case.add_file("dump.bin", b"\x00\x01")
    with pytest.raises(CaseStoreError, match="already has"):
        case.add_file("log.txt", b"other")
    assert (case.files_dir / "log.txt").read_bytes() == src.read_bytes()
    assert store.open(case.case_id).manifest.files == ("dump.bin", "log.txt")


@pytest.mark.parametrize("case_id", ["../x", "..", "2026-11-25T142305-ABCDEF", "/etc"])
def test_open_refuses_what_is_not_a_case_id(store: CaseStore, case_id: str) -> None:
    with pytest.raises(CaseStoreError, match="not a case ID"):
        store.open(case_id)


def test_open_unknown_case(store: CaseStore) -> None:
    with pytest.raises(CaseStoreError, match="no case"):
        store.open("2026-11-25T142305-abcdef")


def test_findings(store: CaseStore) -> None:
    case = store.new_case(reference="r", engineer="e")
    case.finding("disk", "ok", "plenty of space")
    case.finding("updates", Status.PROBLEM, "12 updates pending")
    with pytest.raises(CaseStoreError, match="'ok', 'warning' or 'problem'"):
        case.finding("x", "bad", "text")
    with pytest.raises(CaseStoreError, match="step name"):
        case.finding("", "ok", "text")
    assert [f.status for f in store.open(case.case_id).findings] == [Status.OK, Status.PROBLEM]
    df = store.findings()
    assert df["status"].max() == "problem"
    assert store.cases()["worst"].tolist() == ["problem"]


def test_audit_is_idempotent_by_seq_and_refuses_changes(store: CaseStore) -> None:
    case = store.new_case(reference="r", engineer="e")
    recs = [
        {
            "seq": i,
            "ts": f"2026-11-25T14:0{i}:00Z",
            "prev": f"h{i - 1}",
            "kind": "consent",
            "scope": "probe:os",
            "decision": "allow",
        }
        for i in range(3)
    ]
    assert case.add_audit(recs[:2]) == 2
    assert case.add_audit(recs) == 1
    assert case.add_audit(reversed(recs)) == 0
    assert [r["seq"] for r in case.audit()] == [0, 1, 2]
    before = (case.path / "audit.jsonl").read_bytes()
    with pytest.raises(CaseStoreError, match="altered"):
        case.add_audit([{**recs[1], "decision": "deny"}])
    with pytest.raises(CaseStoreError, match="seq"):
        case.add_audit([{"ts": "t", "kind": "k"}])
    assert (case.path / "audit.jsonl").read_bytes() == before
    assert store.audit()["seq"].tolist() == [0, 1, 2]


def test_screenshots(store: CaseStore) -> None:
    case = store.new_case(reference="r", engineer="e")
    img = Image.new("RGB", (8, 4), "red")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    first = case.add_screenshot(img)
    second = case.add_screenshot(buf.getvalue())  # same fixed time: must not overwrite
    assert first != second and first.name.startswith("20261125T142305")
    with Image.open(second) as shot:
        assert shot.size == (8, 4)
    with pytest.raises(CaseStoreError, match="PNG"):
        case.add_screenshot(b"GIF89a...")
    with pytest.raises(CaseStoreError, match="valid PNG"):
        case.add_screenshot(b"\x89PNG\r\n\x1a\n" + b"garbage")
    assert len(store.open(case.case_id).manifest.screenshots) == 2


def test_notebook(store: CaseStore, tmp_path: Path) -> None:
    case = store.new_case(reference="r", engineer="e")
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {
                "cell_type": "code",
                "id": "c1",
                "source": "session.probe('network')",
                "metadata": {},
                "execution_count": 1,
                "outputs": [
                    {
                        "output_type": "stream",
                        "name": "stdout",
                        "text": "gateway 192.168.178.1 for C:\\Users\\anna\\x",
                    }
                ],
            }
        ],
    }
    src = tmp_path / "play.ipynb"
    src.write_text(json.dumps(nb))
    stored = json.loads(case.add_notebook(src).read_text())
    text = stored["cells"][0]["outputs"][0]["text"]
    assert "192.168" not in text and "anna" not in text and text.startswith("gateway ip4-private-")
    assert stored["cells"][0]["id"] == "c1"
    assert store.open(case.case_id).manifest.notebook == "notebook.ipynb"
    src.write_text("{}")
    with pytest.raises(CaseStoreError, match="not a Jupyter notebook"):
        case.add_notebook(src)


def test_purge_with_a_fixed_clock(store: CaseStore, clock: FixedClock) -> None:
    old = store.new_case(reference="old", engineer="e")
    old.close()
    clock.advance(timedelta(days=60))
    young = store.new_case(reference="young", engineer="e")
    clock.advance(timedelta(days=30, hours=1))  # old: 90d+1h, young: 30d+1h
    assert store.purge(older_than="91d") == []
    assert store.purge(older_than="90d") == [old.case_id]
    assert store.case_ids() == [young.case_id]
    assert store.purge(older_than=timedelta(days=30)) == [young.case_id]
    assert [e["reason"] for e in store.erasures()] == ["retention", "retention"]


def test_purge_counts_unclosed_cases_from_creation(store: CaseStore, clock: FixedClock) -> None:
    case = store.new_case(reference="r", engineer="e")
    clock.advance(timedelta(hours=13))
    assert store.purge(older_than="12h") == [case.case_id]


@pytest.mark.parametrize("age", ["90", "90 days", "-1d", "0h", "d", timedelta(0)])
def test_purge_refuses_bad_ages(store: CaseStore, age: str | timedelta) -> None:
    store.new_case(reference="r", engineer="e")
    with pytest.raises(CaseStoreError, match="age"):
        store.purge(older_than=age)
    assert len(store.case_ids()) == 1


def test_erase_removes_everything_and_logs_no_personal_data(store: CaseStore, t0: datetime) -> None:
    case = store.new_case(reference="Ticket of Anna Schmidt", engineer="Erika Muster")
    case.add_table("os", pd.DataFrame({"a": [1]}))
    store.erase(case.case_id)
    assert not case.path.exists()
    assert store.case_ids() == []
    assert [p.name for p in store.root.iterdir() if not p.name.startswith(".")] == [
        "erasures.jsonl"
    ]
    log = (store.root / "erasures.jsonl").read_text()
    assert "Anna" not in log and "Erika" not in log
    assert store.erasures() == [
        {"case_id": case.case_id, "erased_at": t0.isoformat(), "reason": "request"}
    ]
    with pytest.raises(CaseStoreError, match="no case"):
        store.erase(case.case_id)
    with pytest.raises(CaseStoreError, match="no case"):
        store.open(case.case_id)


def test_export_zips_the_case_without_the_key(store: CaseStore, tmp_path: Path) -> None:
    case = store.new_case(reference="r", engineer="e")
    case.add_table("os", pd.DataFrame({"a": [1]}))
    case.add_screenshot(Image.new("RGB", (2, 2)))
    (case.path / "tables" / f"{TEMP_PREFIX}junk").write_bytes(b"leftover")
    into_dir = store.export(case.case_id, tmp_path / "out")
    named = store.export(case.case_id, tmp_path / "named.zip")
    assert into_dir == tmp_path / "out" / f"{case.case_id}.zip"
    for path in (into_dir, named):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            assert f"{case.case_id}/manifest.json" in names
            assert f"{case.case_id}/tables/os.parquet" in names
            assert all(n.startswith(f"{case.case_id}/") for n in names)
            assert not any(KEY_FILE in n or TEMP_PREFIX in n for n in names)
            assert len([n for n in names if "/screenshots/" in n]) == 1


def test_half_created_and_damaged_cases_do_not_break_the_store(
    store: CaseStore, clock: FixedClock
) -> None:
    good = store.new_case(reference="good", engineer="e")
    good.add_table("os", pd.DataFrame({"a": [1]}))
    # A kernel killed during new_case leaves a temporary folder, never a final one:
    (store.root / f"{TEMP_PREFIX}2026-11-25T142305-abcdef" / "tables").mkdir(parents=True)
    # A folder damaged by hand (not something the store ever writes):
    broken = store.root / "2026-11-25T142306-bbbbbb"
    (broken / "tables").mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json")
    reopened = CaseStore(store.root, clock=clock)
    assert reopened.cases()["case_id"].tolist() == [good.case_id]
    assert reopened.table("os")["case_id"].tolist() == [good.case_id]
    report = reopened.repair(grace=0)
    assert report.broken == ("2026-11-25T142306-bbbbbb",)
    assert report.reindexed == (good.case_id,)
    assert len(report.removed) == 1
    reopened.erase("2026-11-25T142306-bbbbbb")  # erasure works without a manifest
    assert reopened.case_ids() == [good.case_id]


def test_repair_rebuilds_the_index_from_the_folder(store: CaseStore) -> None:
    case = store.new_case(reference="r", engineer="e")
    case.add_table("os", pd.DataFrame({"a": [1]}))
    # Simulate a crash after the table was renamed into place but before the manifest was updated:
    (case.path / "tables" / "os.parquet").rename(case.path / "tables" / "software.parquet")
    assert store.open(case.case_id).manifest.tables == ("os",)
    store.repair()
    assert store.open(case.case_id).manifest.tables == ("software",)


def test_empty_store(store: CaseStore) -> None:
    assert store.cases().empty and "case_id" in store.cases().columns
    assert store.findings().empty
    assert store.purge() == []
    assert store.table_names() == []


def test_case_is_a_case(store: CaseStore) -> None:
    case = store.new_case(reference="r", engineer="e")
    assert isinstance(store.open(case.case_id), Case)
    assert case.case_id in repr(case)
    with pytest.raises(CaseStoreError, match="reference"):
        store.new_case(reference="two\nlines", engineer="e")
    with pytest.raises(CaseStoreError, match="engineer"):
        store.new_case(reference="r", engineer="")


def test_two_threads_writing_one_case_lose_nothing(store: CaseStore) -> None:
    # The session thread and the notebook's thread may both write to the open case.
    case = store.new_case(reference="r", engineer="e")

    def write(tag: str) -> None:
        for i in range(15):
            case.finding(f"{tag}{i}", "ok", "x")
            case.add_audit([{"seq": i, "ts": "t", "kind": "k"}])

    threads = [threading.Thread(target=write, args=(tag,)) for tag in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reopened = store.open(case.case_id)
    assert sorted(f.step for f in reopened.findings) == sorted(
        f"{t}{i}" for t in "ab" for i in range(15)
    )
    assert [r["seq"] for r in reopened.audit()] == list(range(15))


def test_two_case_objects_for_one_folder_do_not_overwrite_each_other(store: CaseStore) -> None:
    session_side = store.new_case(reference="r", engineer="e")
    notebook_side = store.open(session_side.case_id)
    notebook_side.finding("disk", "ok", "fine")
    session_side.add_table("os", pd.DataFrame({"a": [1]}))  # must not drop the finding
    session_side.close()
    notebook_side.finding("updates", "warning", "pending")  # must not reopen the case
    manifest = store.open(session_side.case_id).manifest
    assert [f.step for f in manifest.findings] == ["disk", "updates"]
    assert manifest.tables == ("os",) and manifest.closed is not None
