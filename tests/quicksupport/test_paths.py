"""Per-user data: XDG on Linux, %LOCALAPPDATA%\\zvkdiag (not roaming) on Windows."""

from __future__ import annotations

from pathlib import Path

import platformdirs.unix
import platformdirs.windows
import pytest

from zvkdiag.consent.audit import default_audit_path
from zvkdiag.quicksupport.paths import data_dir, instance_address

LOCAL = r"C:\Users\kunde\AppData\Local"
ROAMING = r"C:\Users\kunde\AppData\Roaming"


def test_windows_keeps_the_data_in_localappdata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIN_PD_OVERRIDE_LOCAL_APPDATA", LOCAL)
    monkeypatch.setenv("WIN_PD_OVERRIDE_APPDATA", ROAMING)
    folder = data_dir(platformdirs.windows.Windows)
    assert str(folder.parent) == LOCAL
    assert folder.name == "zvkdiag"


def test_linux_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert data_dir(platformdirs.unix.Unix) == tmp_path / "zvkdiag"
    assert data_dir() == default_audit_path().parent  # ``zvkdiag audit verify`` looks there too


def test_a_long_folder_still_gets_a_short_socket_name(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 120)
    address, family = instance_address(deep)
    assert family == "AF_UNIX" and len(address) < 100
    assert address != instance_address(tmp_path / ("y" * 120))[0]
