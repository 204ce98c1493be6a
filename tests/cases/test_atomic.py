from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from zvkdiag.cases import CaseStore
from zvkdiag.cases.atomic import (
    TEMP_PREFIX,
    atomic_write_bytes,
    atomic_writer,
    sweep_temp,
)
from zvkdiag.testing.procs import end

WRITER = Path(__file__).with_name("crash_writer.py")
SMALL_ROWS = 10
BIG_ROWS = 300_000


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)]


def test_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write(b"half of the new")
        raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_no_overwrite_refuses_an_existing_name(tmp_path: Path) -> None:
    target = atomic_write_bytes(tmp_path / "a.png", b"first", overwrite=False)
    with pytest.raises(FileExistsError):
        atomic_write_bytes(target, b"second", overwrite=False)
    assert target.read_bytes() == b"first"
    assert _leftovers(tmp_path) == []


def test_sweep_spares_fresh_leftovers_and_removes_old_ones(tmp_path: Path) -> None:
    fresh = tmp_path / f"{TEMP_PREFIX}fresh"
    old = tmp_path / "sub" / f"{TEMP_PREFIX}old"
    old.parent.mkdir()
    fresh.write_bytes(b"x")
    old.write_bytes(b"x")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    assert sweep_temp(tmp_path, grace=600) == [old]
    assert fresh.exists()
    assert sweep_temp(tmp_path, grace=0) == [fresh]


def _wait_for_temp_table(tables: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the writer died on its own"
        for entry in tables.iterdir():
            if entry.name.startswith(TEMP_PREFIX) and entry.stat().st_size > 0:
                return
        time.sleep(0.001)
    pytest.fail("the writer never got to write a table")


def _assert_every_final_file_complete(root: Path) -> None:
    for path in root.rglob("*"):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.suffix == ".parquet":
            pq.read_table(path)  # raises on a truncated file
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".jsonl":
            [json.loads(line) for line in path.read_text().splitlines()]


def test_kernel_killed_mid_write_loses_nothing(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(root), str(SMALL_ROWS), str(BIG_ROWS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        case_id = proc.stdout.readline().strip()
        _wait_for_temp_table(root / case_id / "tables", proc)
    finally:
        end(proc)  # SIGKILL, then its pipe closed
    assert proc.returncode == -signal.SIGKILL
    assert _leftovers(root), "the kill should have caught a write in progress"

    _assert_every_final_file_complete(root)
    store = CaseStore(root)
    assert store.cases()["case_id"].tolist() == [case_id]
    table = store.table("big")
    assert (len(table) - SMALL_ROWS) % BIG_ROWS == 0
    assert store.sql("SELECT count(*) AS n FROM big")["n"].iloc[0] == len(table)
    assert store.open(case_id).manifest.tables == ("big",)

    report = store.repair(grace=0)
    assert report.removed and report.broken == ()
    assert _leftovers(root) == []
    assert len(store.table("big")) == len(table)
