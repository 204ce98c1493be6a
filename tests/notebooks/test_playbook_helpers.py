"""The pieces every playbook leans on: verdicts, version checks, findings, the headless runner."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from zvkdiag import CaseStoreError, ZvkdiagError
from zvkdiag.cases import CaseStore
from zvkdiag.playbooks import (
    Playbook,
    check_versions,
    compare_versions,
    grade,
    human_bytes,
    open_case,
    run_playbook,
    synthetic_store,
    worst,
)


@pytest.mark.parametrize(
    ("value", "expected"), [(10, "ok"), (80, "warning"), (95, "problem"), (99.9, "problem")]
)
def test_grade_higher_is_worse(value: float, expected: str) -> None:
    assert grade(value, warn=80, problem=95) == expected


@pytest.mark.parametrize(("free", "expected"), [(50, "ok"), (20, "warning"), (4.9, "problem")])
def test_grade_lower_is_worse(free: float, expected: str) -> None:
    assert grade(free, warn=20, problem=5, higher_is_worse=False) == expected


def test_grade_unknown_is_a_warning_and_thresholds_are_checked() -> None:
    assert grade(None, warn=1, problem=2) == "warning"
    assert grade(float("nan"), warn=1, problem=2) == "warning"
    assert grade(pd.NA, warn=1, problem=2) == "warning"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out of order"):
        grade(1, warn=95, problem=80)
    with pytest.raises(ValueError, match="out of order"):
        grade(1, warn=5, problem=20, higher_is_worse=False)


def test_worst_and_human_bytes() -> None:
    assert worst([]) == "ok"
    assert worst(["ok", "problem", "warning"]) == "problem"
    with pytest.raises(ValueError):
        worst(["fine"])
    assert human_bytes(512) == "512 B"
    assert human_bytes(3 * 1024**3) == "3.0 GB"
    assert human_bytes(None) == "unknown"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("24.002.20933", "24.0", 1),
        ("3.2", "3.2.0", 0),
        ("3.10.1", "3.9.9", 1),
        ("1:2.39-8", "2.40", -1),  # a Debian epoch is dropped
        ("8.0.3810.9", "8.0.3810.10", -1),
        ("11.0.21+9", "11.0.21+10", -1),
        ("1.0a", "1.0", 1),
    ],
)
def test_compare_versions(a: str, b: str, expected: int) -> None:
    assert compare_versions(a, b) == expected
    assert compare_versions(b, a) == -expected


def test_check_versions() -> None:
    software = pd.DataFrame(
        {
            "name": ["Adobe Acrobat Reader (64-bit)", "Java 8 Update 381", "Java 8 Update 411"],
            "version": ["23.008.20470", "8.0.3810.9", "8.0.4110.9"],
        }
    ).astype("string")
    required = [
        {"name": "Adobe Acrobat Reader", "pattern": "acrobat", "min_version": "24.0"},
        {
            "name": "Java 8",
            "pattern": r"^Java 8",
            "min_version": "8.0.3000",
            "max_version": "8.0.4000",
        },
        {"name": "ZVK Datenübertragung", "min_version": "3.2.0"},
        {"name": "Java (any)", "pattern": "java"},
    ]
    got = check_versions(software, required).set_index("requirement")
    assert got.loc["Adobe Acrobat Reader", "status"] == "problem"
    assert "older than 24.0" in got.loc["Adobe Acrobat Reader", "text"]
    assert got.loc["Java 8", "installed_version"] == "8.0.4110.9"  # the newest counts
    assert got.loc["Java 8", "status"] == "warning"
    assert got.loc["ZVK Datenübertragung", "status"] == "problem"
    assert pd.isna(got.loc["ZVK Datenübertragung", "installed_name"])
    assert got.loc["Java (any)", "status"] == "ok"
    with pytest.raises(ValueError, match="bad pattern"):
        check_versions(software, [{"name": "x", "pattern": "("}])
    with pytest.raises(ValueError, match="needs a 'name'"):
        check_versions(software, [{"min_version": "1"}])


def test_playbook_records_into_the_case_and_shows(tmp_path: Path) -> None:
    shown: list[str] = []
    case = open_case(tmp_path / "cases", reference="ZVK-1", engineer="Erika Muster")
    pb = Playbook(case, "disk", show=shown.append)
    pb.finding("system_drive", "problem", "C:\\ is 97% full")
    df = pb.table({}, "storage", step="drives")  # the customer declined the probe
    assert df.empty
    assert [f.step for f in case.findings] == ["disk.system_drive", "disk.drives"]
    assert [f.status.value for f in case.findings] == ["problem", "warning"]
    assert pb.worst == "problem" and len(shown) == 2 and "97% full" in shown[0]
    assert list(pb.summary()["step"]) == ["disk.system_drive", "disk.drives"]
    again = open_case(tmp_path / "cases", reference="", engineer="", case_id=case.case_id)
    assert again.case_id == case.case_id
    with pytest.raises(CaseStoreError):
        pb.finding("x", "bad", "no such status")
    with pytest.raises(CaseStoreError):
        Playbook(case, "Disk Full")


def test_synthetic_store_has_the_signal_and_pseudonyms(tmp_path: Path) -> None:
    store = synthetic_store(tmp_path / "cases", cases=40, seed=11)
    assert len(store.cases()) == 40
    share = store.sql(
        """
        SELECT o.build = '19045' AS win10,
               avg(CAST(CAST(f.status AS VARCHAR) = 'problem' AS INTEGER)) AS share
        FROM findings f JOIN os o USING (case_id)
        WHERE f.step = 'portal.tcp' GROUP BY ALL
        """
    ).set_index("win10")["share"]
    assert share[True] > share[False]
    hosts = store.table("os")["hostname"]
    assert hosts.str.startswith("host-").all()
    users = store.table("users_sessions")["user"]
    assert users.str.startswith("user-").all()


def test_run_playbook_reports_the_failing_cell(tmp_path: Path, kernel: str) -> None:
    nb = new_notebook()
    params = new_code_cell("divisor = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell("print(10 / divisor)")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    source = tmp_path / "tiny.ipynb"
    nbformat.write(nb, source)
    case = CaseStore(tmp_path / "cases").new_case(reference="ZVK-2", engineer="E")
    out = run_playbook(
        source, tmp_path / "ok.ipynb", parameters={}, case=case, kernel_name=kernel, cwd=tmp_path
    )
    assert "10.0" in out.read_text()
    assert (case.path / "notebook.ipynb").exists() and (case.path / "report.html").exists()
    with pytest.raises(ZvkdiagError, match=r"tiny\.ipynb failed in cell .*ZeroDivisionError"):
        run_playbook(
            source,
            tmp_path / "bad.ipynb",
            parameters={"divisor": 0},
            kernel_name=kernel,
            cwd=tmp_path,
        )
    assert (tmp_path / "bad.ipynb").exists()  # the traceback stays readable
