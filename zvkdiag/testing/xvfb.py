"""A real X screen for tests, benchmarks and the demo: Xvfb on a free display number."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

__all__ = ["XServer", "xvfb"]

START_TIMEOUT = 30.0


@dataclass(frozen=True)
class XServer:
    display: str
    width: int
    height: int

    def env(self) -> dict[str, str]:
        """A copy of os.environ pointing at this screen."""
        return {**os.environ, "DISPLAY": self.display}


@contextmanager
def xvfb(
    width: int = 1920, height: int = 1080, depth: int = 24, *, own_session: bool = False
) -> Iterator[XServer]:
    """Start Xvfb, let it pick a free display (``-displayfd``), stop it afterwards.

    Xvfb reports the display on a pipe, not a file: it writes the number and the
    newline separately, and a file would share its offset with our reads.
    ``own_session`` keeps a terminal's Ctrl-C from reaching it: a program with
    a window on it (the demo) then tears down in order instead of losing its
    X connection, which ends an Xlib client on the spot.
    """
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed (apt-get install xvfb)")
    read_end, write_end = os.pipe()
    try:
        with tempfile.TemporaryFile() as log:
            try:
                proc = subprocess.Popen(
                    [
                        "Xvfb",
                        "-displayfd",
                        str(write_end),
                        "-screen",
                        "0",
                        f"{width}x{height}x{depth}",
                        "-nolisten",
                        "tcp",
                        "-ac",
                        "-noreset",
                    ],
                    pass_fds=(write_end,),
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=own_session,
                )
            finally:
                os.close(write_end)
            try:
                number = _started(read_end, log)
                yield XServer(f":{number}", width, height)
            finally:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    finally:
        os.close(read_end)


def _started(read_end: int, log: IO[bytes]) -> str:
    """The display number, or an error that quotes what Xvfb said."""
    try:
        return _read_display(read_end, START_TIMEOUT)
    except RuntimeError as exc:
        log.seek(0)
        said = log.read()[-2000:].decode(errors="replace").strip()
        raise RuntimeError(f"{exc}; Xvfb said: {said or '(nothing)'}") from None


def _read_display(fd: int, timeout: float) -> str:
    """The display number Xvfb writes to ``fd`` once it accepts clients."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise RuntimeError(f"Xvfb did not report a display within {timeout:g} s")
        chunk = os.read(fd, 64)
        if not chunk:
            raise RuntimeError("Xvfb exited at start")
        data += chunk
    number = data.strip().decode()
    if not number.isdigit():
        raise RuntimeError(f"Xvfb reported no display number: {data!r}")
    return number
