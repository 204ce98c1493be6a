"""A throw-away OpenSSH server on 127.0.0.1 for the benchmarks' peer measurements."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil
from _common import free_port

SSHD: Final = "/usr/sbin/sshd"
SFTP_SERVER: Final = "/usr/lib/openssh/sftp-server"
PRIVSEP_DIR: Final = Path("/run/sshd")
CLIENT_OPTS: Final = (  # ssh/sftp against the private sshd: no prompts, no host-key files
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
)
# root's ~/.bashrc here runs `pyenv init`; AcceptEnv SHLVL lets a client skip it (SHLVL=1)
_CONFIG: Final = """\
ListenAddress 127.0.0.1
HostKey {d}/host_key
PidFile {d}/sshd.pid
UsePAM no
AuthorizedKeysFile {d}/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
AcceptEnv SHLVL
Subsystem sftp {sftp}
"""


@dataclass(frozen=True)
class Sshd:
    port: int
    client_key: Path
    pid: int


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def private_sshd(d: Path) -> Iterator[Sshd]:
    """Keys, config and log in ``d``; root may log in with ``client_key`` only."""
    d.mkdir(parents=True, exist_ok=True)
    _keygen(d / "host_key")
    _keygen(d / "client_key")
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    (d / "sshd_config").write_text(_CONFIG.format(d=d, sftp=SFTP_SERVER))
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    port = free_port()
    with (d / "sshd.log").open("w") as log:
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(d / "sshd_config"), "-p", str(port)], stderr=log
        )
        try:
            _wait_listening(port, proc)
            yield Sshd(port, d / "client_key", proc.pid)
        finally:
            proc.terminate()
            proc.wait(5)


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}")
        if any(c.laddr.port == port for c in psutil.Process(proc.pid).net_connections("tcp")):
            return
        time.sleep(0.02)
    raise RuntimeError("sshd did not listen")
