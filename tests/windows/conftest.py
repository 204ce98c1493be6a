"""Fixtures: the Windows exe built under Wine, a Wine desktop on Xvfb, the real relay.

The exe comes from ``packaging/windows/build.py``, cached by the hash of its
inputs (first run: a few minutes; later runs: a file lookup).  Windows Python
crashes when its stdout is a regular Linux file, and a pipe may be held open
by Wine's helper processes: the exe writes what it reports (``ID:``,
``Password:``) to a file named by ``ZVKDIAG_OUTPUT_FILE`` instead, and its
stdout and stderr go to /dev/null.  There is no window manager.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import numpy as np
import pytest
from e2e_tk.driver import Screen

from zvkdiag.testing.procs import Proc
from zvkdiag.testing.xvfb import xvfb
from zvkdiag.trust import ca

REPO: Final = Path(__file__).resolve().parents[2]
TEST_CA: Final = REPO / "build" / "test-ca"
"""The organisation's CA of the tests (shared with tests/onefile), baked into the exe."""
BUILTIN_RELAY: Final = "127.0.0.1:9"
"""Built in, then overridden with ``--relay``: the discard port, where no relay answers."""
ENGINEER: Final = "Erika Muster"
WIDTH, HEIGHT = 1280, 1024
ID_LINE: Final = r"^ID: (\d{3} \d{3} \d{3})$"
PASSWORD_LINE: Final = r"^Password: ([a-z2-9]{4}-[a-z2-9]{4})$"
START_WAIT: Final = 120.0
"""Upper bound for the exe to report ID and password; Wine's first start in a prefix is slow."""
BUILD_TIMEOUT: Final = 1800


class WineScreen(Screen):
    """The Xvfb screen with Tk windows drawn by Wine: button faces are Wine's light grey."""

    button_greys = ("#f5f5f5",)

    def grab(self, left: int, top: int, width: int, height: int) -> Any:
        """As ``Screen.grab``, cut at the screen's edges (X refuses beyond; a window Wine has
        only begun to place may reach past any of them)."""
        right = min(left + width, self.server.width)
        bottom = min(top + height, self.server.height)
        left, top = max(0, left), max(0, top)
        if right <= left or bottom <= top:
            return np.zeros((0, 0, 3), np.uint8)
        return super().grab(left, top, right - left, bottom - top)


def load_build() -> ModuleType:
    """``packaging/windows/build.py`` as a module (packaging/ is no Python package)."""
    path = REPO / "packaging" / "windows" / "build.py"
    spec = importlib.util.spec_from_file_location("zvk_windows_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def build() -> ModuleType:
    module = load_build()
    try:
        module.find_wine()
    except module.WineBedError as exc:
        pytest.skip(str(exc))
    if shutil.which(module.MINGW_GCC) is None:
        pytest.skip(f"needs {module.MINGW_GCC} (scripts/install-system.sh)")
    return module


@pytest.fixture(scope="session")
def wine_env(build: ModuleType) -> Any:
    return build.ensure_env(log=True)


@pytest.fixture(scope="session")
def test_ca() -> Path:
    if not (TEST_CA / "ca.pub").exists():
        shutil.rmtree(TEST_CA, ignore_errors=True)
        ca.init_ca(TEST_CA)
    return TEST_CA


@pytest.fixture(scope="session")
def exe(build: ModuleType, wine_env: Any, test_ca: Path) -> Path:
    """The exe as customers get it: relay address and CA key built in."""
    builtin = build.bake.BuiltIn(BUILTIN_RELAY, (test_ca / "ca.pub").read_text())
    path: Path = build.cached_exe(log=True, builtin=builtin)
    return path


@pytest.fixture
def identity(test_ca: Path, tmp_path: Path) -> str:
    """The key of an engineer whose certificate the built-in CA key verifies."""
    ca.issue(test_ca, ENGINEER, days=1, out_dir=tmp_path)
    return str(tmp_path / "erika-muster")


@pytest.fixture
def desktop(wine_env: Any) -> Iterator[Screen]:
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.skip("needs Xvfb and xdotool")
    # Wine's desktop process keeps the display of the prefix's first program: start afresh
    wine_env.wineserver("-k")
    wine_env.wineserver("-w")
    with xvfb(width=WIDTH, height=HEIGHT) as server:
        yield WineScreen(server)
        # Wine's desktop process holds this display: end the prefix's processes with it
        wine_env.wineserver("-k")
        wine_env.wineserver("-w")


@pytest.fixture
def relay() -> Iterator[str]:
    proc = Proc("relay", "--listen", "127.0.0.1:0")
    try:
        yield proc.expect(r"Relay listening on (\S+)").group(1)
    finally:
        proc.stop()


@dataclass
class WineProgram:
    """A Windows program started under Wine, and the file it reports to."""

    proc: subprocess.Popen[bytes]
    output: Path

    def reported(self, pattern: str, timeout: float = START_WAIT) -> re.Match[str]:
        """Wait for a line of the report file matching ``pattern``."""
        rx = re.compile(pattern, re.MULTILINE)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.output.read_text(encoding="utf-8") if self.output.exists() else ""
            if m := rx.search(text):
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        text = self.output.read_text(encoding="utf-8") if self.output.exists() else ""
        if m := rx.search(text):  # written just before the program ended
            return m
        raise AssertionError(
            f"no line matching {pattern!r} (exit {self.proc.poll()}); report:\n{text[-3000:]}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@dataclass
class Customer:
    program: WineProgram
    session_id: str
    password: str


@pytest.fixture
def start_exe(wine_env: Any, exe: Path, desktop: Screen, tmp_path: Path) -> Iterator[Any]:
    programs: list[WineProgram] = []

    def start(*args: str, name: str = "report.txt") -> WineProgram:
        output = tmp_path / name
        env = {
            "DISPLAY": desktop.display,
            "ZVKDIAG_OUTPUT_FILE": wine_env_path(output),
        }
        program = WineProgram(wine_env.popen([str(exe), *args], extra_env=env), output)
        programs.append(program)
        return program

    yield start
    for program in programs:
        program.stop()
        if program.output.exists():
            print(f"--- {program.output.name} ---\n{program.output.read_text()[-3000:]}")


@pytest.fixture
def customer(start_exe: Any, relay: str) -> Customer:
    program = start_exe("--relay", relay, "--lang", "de")
    session_id = program.reported(ID_LINE).group(1)
    password = program.reported(PASSWORD_LINE).group(1)
    return Customer(program, session_id, password)


def wine_env_path(path: Path) -> str:
    return "Z:" + str(path.resolve()).replace("/", "\\")
