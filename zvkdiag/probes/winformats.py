"""Windows data sources: pure parsers of their formats, plus thin live readers.

The parsers (``parse_reg_export``, ``ps_records``, ``parse_ps_datetime``) are
pure and tested on recorded outputs in ``tests/data/windows``.  The live
readers (``read_registry``, ``powershell_json``) only run on Windows and
return the very structures the parsers produce, so every probe interprets the
same shape whether it came from a recording or from the machine.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from zvkdiag.probes.base import ProbeContext

__all__ = [
    "RegTree",
    "RegValue",
    "parse_ps_datetime",
    "parse_reg_export",
    "powershell_json",
    "ps_records",
    "read_registry",
    "reg_subkeys",
]

RegValue = str | int | list[str] | bytes
RegTree = dict[str, dict[str, RegValue]]
"""Full key path (``HKEY_LOCAL_MACHINE\\...``) -> value name (``""`` = default) -> value."""

_HIVES: Final = {
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKCU": "HKEY_CURRENT_USER",
    "HKU": "HKEY_USERS",
    "HKCR": "HKEY_CLASSES_ROOT",
}
_PS_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<tz>[+-]\d{4})?\)/$")
_POWERSHELL: Final = ("powershell.exe", "-NoProfile", "-NonInteractive", "-Command")
_UTF8_PREFIX: Final = "[Console]::OutputEncoding=[Text.Encoding]::UTF8; "
_PS_SOURCE: Final = re.compile(
    r"Get-CimInstance (?:-Namespace \S+ )?(?:-ClassName )?(\w+)|(Get-\w+)"
)
_PS_END: Final = "zvkdiag-end"
"""Printed after the script: an empty result is then told apart from a PowerShell that ran
nothing (Wine's ``powershell.exe`` is a stub that prints nothing and exits with 0)."""


def long_key(path: str) -> str:
    """``HKLM\\X`` -> ``HKEY_LOCAL_MACHINE\\X`` (keys compare case-insensitively on Windows)."""
    hive, _, rest = path.partition("\\")
    full = _HIVES.get(hive.upper(), hive.upper())
    return f"{full}\\{rest}" if rest else full


def reg_subkeys(tree: RegTree, parent: str) -> dict[str, dict[str, RegValue]]:
    """Direct subkeys of ``parent`` (short name -> values), case-insensitively."""
    prefix = long_key(parent).lower() + "\\"
    found: dict[str, dict[str, RegValue]] = {}
    for key, values in tree.items():
        low = key.lower()
        if low.startswith(prefix) and "\\" not in key[len(prefix) :]:
            found[key[len(prefix) :]] = values
    return found


def reg_values(tree: RegTree, key: str) -> dict[str, RegValue] | None:
    """Values of one key, or None when the key does not exist."""
    wanted = long_key(key).lower()
    return next((v for k, v in tree.items() if k.lower() == wanted), None)


def parse_reg_export(text: str) -> RegTree:
    """Parse the text of ``reg export`` / ``regedit /e`` (version 5.00 format).

    Handles string, dword, qword, expand_sz (``hex(2)``), multi_sz (``hex(7)``)
    and binary values, and the backslash line continuations of long hex data.
    """
    tree: RegTree = {}
    current: dict[str, RegValue] | None = None
    for line in _joined_lines(text):
        if line.startswith("[") and line.endswith("]"):
            current = tree.setdefault(long_key(line[1:-1]), {})
        elif current is not None and "=" in line:
            name, raw = _split_value_line(line)
            current[name] = _reg_data(raw)
    return tree


def _joined_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.strip()
        if line.endswith("\\") and not line.startswith("["):
            pending += line[:-1]
            continue
        lines.append(pending + line)
        pending = ""
    return lines


def _split_value_line(line: str) -> tuple[str, str]:
    if line.startswith("@="):
        return "", line[2:]
    match = re.match(r'^"((?:[^"\\]|\\.)*)"=(.*)$', line)
    if not match:
        return line.partition("=")[0], line.partition("=")[2]
    return _unescape(match.group(1)), match.group(2)


def _unescape(quoted: str) -> str:
    return quoted.replace('\\"', '"').replace("\\\\", "\\")


def _reg_data(raw: str) -> RegValue:
    if raw.startswith('"') and raw.endswith('"'):
        return _unescape(raw[1:-1])
    if raw.startswith("dword:"):
        return int(raw[6:], 16)
    kind, _, hexdata = raw.partition(":")
    data = bytes(int(b, 16) for b in hexdata.replace(" ", "").split(",") if b)
    if kind == "hex(2)":
        return data.decode("utf-16-le", errors="replace").rstrip("\x00")
    if kind == "hex(7)":
        return [s for s in data.decode("utf-16-le", errors="replace").split("\x00") if s]
    if kind == "hex(b)":
        return int.from_bytes(data[:8], "little")
    return data


def ps_records(text: str) -> list[dict[str, object]]:
    """Objects from ``ConvertTo-Json`` output: one object or a list, always a list.

    PowerShell writes a lone object without the surrounding list; empty
    output means no objects.
    """
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        return []
    data = json.loads(stripped)
    items = data if isinstance(data, list) else [data]
    return [item for item in items if isinstance(item, dict)]


def parse_ps_datetime(value: object, *, local_tz: dt.tzinfo | None = None) -> dt.datetime | None:
    """A UTC datetime from what PowerShell's ``ConvertTo-Json`` makes of a DateTime.

    Windows PowerShell 5.1 writes ``/Date(ms)/`` (sometimes wrapped in an
    object with ``value``), PowerShell 7 ISO 8601; CIM DMTF strings
    (``20240308101500.000000+060``) appear too.  Year 1601 is Windows' "never".
    """
    if isinstance(value, dict):
        value = value.get("value", value.get("DateTime"))
    if not isinstance(value, str) or not value:
        return None
    if match := _PS_DATE.match(value):
        return _sane(dt.datetime.fromtimestamp(int(match["ms"]) / 1000, tz=dt.UTC))
    if re.match(r"^\d{14}\.\d{6}[+-]\d{3}$", value):
        offset = dt.timedelta(minutes=int(value[-4:]))
        naive = dt.datetime.strptime(value[:14], "%Y%m%d%H%M%S")
        return _sane(naive.replace(tzinfo=dt.timezone(offset)).astimezone(dt.UTC))
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local_tz or dt.UTC)
    return _sane(parsed.astimezone(dt.UTC))


def parse_yyyymmdd(value: object) -> dt.datetime | None:
    """Uninstall keys' ``InstallDate`` (``20240308``) as midnight UTC."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{8}", value.strip()):
        return None
    try:
        return _sane(dt.datetime.strptime(value.strip(), "%Y%m%d").replace(tzinfo=dt.UTC))
    except ValueError:
        return None


def _sane(value: dt.datetime) -> dt.datetime | None:
    """Dates pandas' nanosecond timestamps can hold (Windows uses 1601 for "never")."""
    return value if 1678 <= value.year <= 2261 else None


def text_or_none(value: object) -> str | None:
    """A stripped string, or None for missing/empty values."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def powershell_json(
    ctx: ProbeContext, script: str, *, timeout: float = 15.0
) -> list[Mapping[str, object]]:
    """Run a PowerShell pipeline ending in ``ConvertTo-Json`` and return its objects.

    Failures become warnings on ``ctx`` and an empty list.
    """
    out = ctx.run([*_POWERSHELL, f"{_UTF8_PREFIX}{script}; '{_PS_END}'"], timeout=timeout)
    if out is None:
        return []
    body, end, _ = out.rstrip().rpartition(_PS_END)
    if not end:
        ctx.warn(f"PowerShell ran nothing (no output at all): {_ps_source(script)} not read")
        return []
    try:
        return list(ps_records(body))
    except json.JSONDecodeError as exc:
        ctx.warn(f"PowerShell output was not JSON: {exc}")
        return []


def _ps_source(script: str) -> str:
    """What a script reads first, for a warning: its CIM class or cmdlet."""
    found = _PS_SOURCE.search(script)
    return (found.group(1) or found.group(2)) if found else "the script's source"


def read_registry(path: str, *, depth: int = 1) -> RegTree:
    """Read ``path`` and its subkeys ``depth`` levels deep into a ``RegTree`` (Windows only).

    Missing keys are simply absent from the result: that is information
    (e.g. no ``RebootRequired`` key means no pending reboot), not an error.
    """
    if sys.platform != "win32":
        raise OSError("the Windows registry exists only on Windows")
    import winreg

    hive_name, _, sub = long_key(path).partition("\\")
    hive = getattr(winreg, hive_name)
    tree: RegTree = {}

    def walk(subpath: str, level: int) -> None:
        try:
            key = winreg.OpenKey(hive, subpath, 0, winreg.KEY_READ)
        except OSError:
            return
        with key:
            subkeys, nvalues, _ = winreg.QueryInfoKey(key)
            values: dict[str, RegValue] = {}
            for i in range(nvalues):
                name, data, _kind = winreg.EnumValue(key, i)
                if isinstance(data, str | int | bytes | list):
                    values[name] = data
            tree[f"{hive_name}\\{subpath}"] = values
            names = [winreg.EnumKey(key, i) for i in range(subkeys)] if level < depth else []
        for name in names:
            walk(f"{subpath}\\{name}", level + 1)

    walk(sub, 0)
    return tree
