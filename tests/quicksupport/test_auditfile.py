"""A damaged or unreadable audit log is kept aside and a new chain begins."""

from __future__ import annotations

from pathlib import Path

import pytest

from zvkdiag._errors import ZvkdiagError
from zvkdiag.consent.audit import AuditLog, verify
from zvkdiag.quicksupport.auditfile import open_audit


def _log_with(path: Path, n: int) -> None:
    with AuditLog(path, fsync=False) as log:
        for i in range(n):
            log.record("message", n=i)


def test_an_intact_log_is_continued(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _log_with(path, 3)
    opened = open_audit(path)
    opened.log.record("message", n=3)
    opened.log.close()
    assert opened.set_aside is None
    assert verify(path).ok and verify(path).records == 4
    assert list(tmp_path.iterdir()) == [path]


def test_a_missing_log_starts_without_notice(tmp_path: Path) -> None:
    opened = open_audit(tmp_path / "sub" / "audit.jsonl")
    opened.log.close()
    assert opened.set_aside is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw.replace(b'"n":1', b'"n":7'),  # an edited record
        lambda raw: b"\x00\xff garbage\n" + raw,  # not JSON at all
        lambda raw: raw[: len(raw) // 2],  # cut off mid-record
    ],
    ids=["edited", "garbage", "torn"],
)
def test_a_damaged_log_is_kept_aside_byte_for_byte(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "audit.jsonl"
    _log_with(path, 3)
    broken = damage(path.read_bytes())
    path.write_bytes(broken)
    opened = open_audit(path)
    opened.log.record("message", n=0)
    opened.log.close()
    assert opened.set_aside is not None
    assert opened.set_aside.name.startswith("audit.jsonl.damaged-")
    assert opened.set_aside.read_bytes() == broken  # nothing lost
    assert "BROKEN" in opened.why
    assert verify(path).ok and verify(path).records == 1  # a new chain


def test_an_unreadable_log_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.mkdir()  # a folder where the file should be: reading fails for anyone, root too
    opened = open_audit(path)
    opened.log.close()
    assert opened.set_aside is not None and opened.set_aside.is_dir()
    assert opened.why.startswith("unreadable")


def test_two_damaged_logs_in_one_second_both_survive(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    for _ in range(2):
        path.write_bytes(b"not json\n")
        open_audit(path).log.close()
    assert len(list(tmp_path.glob("audit.jsonl.damaged-*"))) == 2


def test_a_folder_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ZvkdiagError, match="cannot be written"):
        open_audit(blocker / "audit.jsonl")
