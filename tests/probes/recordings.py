"""Shared helpers for the probe tests: recorded Windows outputs and small honest probes."""

from __future__ import annotations

from pathlib import Path

from zvkdiag.probes.winformats import RegTree, parse_reg_export

WINDOWS_DATA = Path(__file__).resolve().parent.parent / "data" / "windows"


def recorded(name: str) -> str:
    """A recorded Windows output; ``reg export`` files are UTF-16 with a BOM."""
    raw = (WINDOWS_DATA / name).read_bytes()
    if raw.startswith(b"\xff\xfe"):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")


def recorded_reg(name: str) -> RegTree:
    return parse_reg_export(recorded(name))
