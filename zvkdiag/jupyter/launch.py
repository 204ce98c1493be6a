"""Start JupyterLab as a child process on loopback with the project's settings.

Used by ``python -m zvkdiag.demo`` and the browser tests.  The server runs in
its own process group (a Ctrl-C in the terminal reaches only the parent,
which then ends the server cleanly), logs to a file instead of the terminal
where the customer's consent questions appear, and is ready when ``/api``
answers with the token.  The project's server settings (``CONFIG_DIR``) turn
permessage-deflate on for the kernel websockets; ``websocket_compression=False``
turns it off again, for measurements against the server's default.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from zvkdiag._errors import ZvkdiagError
from zvkdiag.jupyter import CONFIG_DIR

__all__ = ["LabServer", "free_port", "start_lab"]

START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 10.0
POLL_INTERVAL: Final = 0.25


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (JupyterLab wants a number up front)."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LabServer:
    """A running JupyterLab child process."""

    proc: subprocess.Popen[bytes]
    root_dir: Path
    port: int
    token: str
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        """``path`` under the server, with the token (what the user opens)."""
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def notebook_url(self, name: str) -> str:
        return self.url(f"lab/tree/{name}")

    def api(self, path: str = "") -> object:
        """GET ``/api/<path>`` with the token; the decoded JSON."""
        url = f"{self.base_url}/api/{path}"  # always http://127.0.0.1
        request = urllib.request.Request(url, headers={"Authorization": f"token {self.token}"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310
            return json.loads(reply.read())

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ZvkdiagError(f"JupyterLab exited at start; see {self.log_path}")
            try:
                self.api()
                return
            except (urllib.error.URLError, OSError):
                time.sleep(POLL_INTERVAL)
        raise ZvkdiagError(f"JupyterLab did not answer within {timeout:.0f} s; see {self.log_path}")

    def stop(self, grace: float = STOP_TIMEOUT) -> None:
        """End the server and its kernels (SIGTERM to every group, SIGKILL after ``grace``).

        The server shuts idle kernels down on SIGTERM; a kernel busy in a cell
        may not go in time, and it lives in a session of its own, so the whole
        process tree is ended, not just the server.
        """
        from zvkdiag._proctree import end_tree

        if self.proc.poll() is None:
            end_tree(self.proc.pid, grace=grace)
        self.proc.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def lab_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment plus the project's Jupyter config folder and ``extra``."""
    config_path = os.pathsep.join(
        p for p in (str(CONFIG_DIR), os.environ.get("JUPYTER_CONFIG_PATH", "")) if p
    )
    return {**os.environ, "JUPYTER_CONFIG_PATH": config_path, **(extra or {})}


def start_lab(
    root_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    token: str | None = None,
    log_path: Path | None = None,
    wait: bool = True,
    websocket_compression: bool = True,
) -> LabServer:
    """Start JupyterLab on 127.0.0.1 serving ``root_dir``; ready when it returns.

    ``env`` adds variables for the server and its kernels (the relay address,
    the demo's ID).  The kernel is this interpreter (JupyterLab's native
    kernel spec), so the notebook imports the same zvkdiag.
    ``websocket_compression=False`` leaves permessage-deflate off (the
    server's default) against the project's settings.
    """
    port = port or free_port()
    token = token or secrets.token_urlsafe(24)
    log_path = log_path or root_dir / ".jupyterlab.log"
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
    ]
    if not websocket_compression:
        # None is the server's default; a command line cannot spell {} (it would be a string).
        argv.append("--ServerApp.websocket_compression_options=None")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # containers and CI run as root
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=lab_env(env),
            start_new_session=True,
        )
    server = LabServer(proc, root_dir, port, token, log_path)
    if wait:
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
    return server
