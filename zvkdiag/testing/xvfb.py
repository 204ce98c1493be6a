"""A real X screen for tests, benchmarks and the demo: Xvfb on a free display number."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["XServer", "xvfb"]


@dataclass(frozen=True)
class XServer:
    display: str
    width: int
    height: int

    def env(self) -> dict[str, str]:
        """A copy of os.environ pointing at this screen."""
        return {**os.environ, "DISPLAY": self.display}


@contextmanager
def xvfb(width: int = 1920, height: int = 1080, depth: int = 24) -> Iterator[XServer]:
    """Start Xvfb, let it pick a free display (``-displayfd``), stop it afterwards."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed (apt-get install xvfb)")
    with tempfile.TemporaryFile() as fd_file:
        proc = subprocess.Popen(
            [
                "Xvfb",
                "-displayfd",
                str(fd_file.fileno()),
                "-screen",
                "0",
                f"{width}x{height}x{depth}",
                "-nolisten",
                "tcp",
                "-ac",
                "-noreset",
            ],
            pass_fds=(fd_file.fileno(),),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            number = _wait_display(fd_file, proc)
            yield XServer(f":{number}", width, height)
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_display(fd_file: object, proc: subprocess.Popen[bytes]) -> str:
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        fd_file.seek(0)  # type: ignore[attr-defined]
        data: str = fd_file.read().decode()  # type: ignore[attr-defined]
        if data.endswith("\n") and data.strip().isdigit():
            return data.strip()
        if proc.poll() is not None:
            raise RuntimeError("Xvfb exited at start")
        time.sleep(0.02)
    raise RuntimeError("Xvfb did not report a display within 15 s")
