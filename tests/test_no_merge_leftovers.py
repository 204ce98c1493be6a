"""A merge that left its conflict markers in a file must not land (docs included: a
benchmark page once carried a whole conflict for a session)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(rb"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)


def _tracked() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name.decode() for name in listed.split(b"\0") if name]


def test_no_tracked_file_holds_conflict_markers() -> None:
    found = []
    for path in _tracked():
        if path.suffix not in {
            ".py",
            ".md",
            ".toml",
            ".js",
            ".css",
            ".json",
            ".ipynb",
            ".txt",
            ".sh",
            ".cfg",
            ".yml",
            ".yaml",
            "",
        }:
            continue
        if not path.is_file():
            continue
        data = path.read_bytes()
        for match in MARKER.finditer(data):
            line = data.count(b"\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(ROOT)}:{line}")
    assert not found, f"merge conflict markers: {found}"
