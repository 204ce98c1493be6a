"""Fixtures for running playbooks headless: a kernel of this venv, loopback servers."""

from __future__ import annotations

import json
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

KERNEL = "zvkdiag-test"


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that runs *this* interpreter, found before any user-level kernel.

    A fresh clone has the venv's ``python3`` kernel, but a developer's
    ``~/.local/share/jupyter`` may shadow it with another Python; a spec of
    our own in ``JUPYTER_PATH`` (searched first) cannot be shadowed.
    """
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel_json = {"argv": argv, "display_name": "zvkdiag tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel_json))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    return KERNEL


def _serve(server: socket.socket, stop: threading.Event, context: ssl.SSLContext | None) -> None:
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        conn.settimeout(5)
        try:
            if context is None:
                conn.close()
                continue
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            conn.close()


@pytest.fixture
def serve() -> Iterator[object]:
    """Start servers on 127.0.0.1 port 0: ``serve(context_or_None) -> port``."""
    stops: list[tuple[threading.Event, threading.Thread, socket.socket]] = []

    def start(context: ssl.SSLContext | None) -> int:
        server = socket.create_server(("127.0.0.1", 0))
        server.settimeout(0.2)
        stop = threading.Event()
        thread = threading.Thread(target=_serve, args=(server, stop, context), daemon=True)
        thread.start()
        stops.append((stop, thread, server))
        return int(server.getsockname()[1])

    yield start
    for stop, thread, server in stops:
        stop.set()
        thread.join(5)
        server.close()
