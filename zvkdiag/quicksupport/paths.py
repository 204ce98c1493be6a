"""Where the customer program keeps its per-user files.

Everything lives in one per-user folder: ``%LOCALAPPDATA%\\zvkdiag`` on Windows
(local, not roaming: the audit log belongs to this PC), ``$XDG_DATA_HOME/zvkdiag``
(``~/.local/share/zvkdiag``) on Linux.  The single-instance lock sits beside the
audit log, so two users of one PC each get their own program and log.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path
from typing import Final

import platformdirs
from platformdirs.api import PlatformDirsABC

__all__ = ["APP_NAME", "data_dir", "instance_address"]

APP_NAME: Final = "zvkdiag"
_MAX_UNIX_PATH: Final = 100
"""AF_UNIX paths are limited to 108 bytes on Linux; stay below with room to spare."""


def data_dir(dirs: type[PlatformDirsABC] = platformdirs.PlatformDirs) -> Path:
    """The per-user folder (not created here); ``dirs`` picks another platform's rules."""
    return Path(dirs(APP_NAME, appauthor=False, roaming=False).user_data_dir)


def instance_address(folder: Path) -> tuple[str, str]:
    """``(address, family)`` of the local channel a second start talks to the first through.

    A named pipe on Windows, a Unix socket elsewhere; neither is a network socket,
    so no firewall asks.  The name is derived from ``folder``: one per user.
    """
    tag = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    if sys.platform == "win32":
        return rf"\\.\pipe\zvkdiag-quicksupport-{tag}", "AF_PIPE"
    path = folder / "instance.sock"
    if len(str(path)) > _MAX_UNIX_PATH:
        path = Path(tempfile.gettempdir()) / f"zvkdiag-{tag}.sock"
    return str(path), "AF_UNIX"
