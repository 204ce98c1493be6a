"""A real squid on loopback for tests: CONNECT only to the ports given, Basic login (or none).

``hosts_file`` makes made-up names resolve to 127.0.0.1 inside squid only, so a
test that reaches ``relay.zvk.test`` proves its bytes went through the proxy.
Squid runs in the foreground (``-N``) with a private configuration in ``folder``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

__all__ = ["SQUID", "Squid"]

SQUID: Final = shutil.which("squid") or "/usr/sbin/squid"
NCSA_AUTH: Final = "/usr/lib/squid/basic_ncsa_auth"
START_TIMEOUT: Final = 20.0

_CONFIG = """\
http_port {listen}:{port}
pid_filename {folder}/squid.pid
cache_log {folder}/cache.log
access_log stdio:{folder}/access.log
netdb_filename none
cache deny all
cache_mem 8 MB
coredump_dir {folder}
hosts_file {folder}/hosts
dns_nameservers 127.0.0.1
shutdown_lifetime 0 seconds
acl allowed_ports port {ports}
acl CONNECT method CONNECT
http_access deny CONNECT !allowed_ports
{access}
http_access deny all
"""
_LOGIN = """\
auth_param basic program {ncsa} {folder}/htpasswd
auth_param basic realm zvk-test
acl authed proxy_auth REQUIRED
http_access deny !authed
http_access allow authed"""
_OPEN = """\
acl own_address src {listen}
http_access allow localhost
http_access allow own_address"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Squid:
    """squid on 127.0.0.1:``port``; user ``user`` with ``password``; names in ``hosts``.

    ``login=False``: no login asked (a proxy a PAC file names comes without credentials).
    ``prefix`` (e.g. ``ip netns exec NS``) runs it in a network namespace, listening on
    ``listen``:``port`` there; it is then known ready from its log, not by connecting.
    """

    def __init__(
        self,
        *,
        ports: list[int],
        hosts: dict[str, str],
        user: str = "max",
        password: str = "geheim",  # noqa: S107  (a test proxy's own throwaway login)
        login: bool = True,
        listen: str = "127.0.0.1",
        port: int | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        # squid drops root for its own user, which must reach and write this folder
        # (pytest's tmp_path lies under a 0700 folder)
        self._tmp = tempfile.TemporaryDirectory(prefix="zvkdiag-squid-")
        self.folder = folder = Path(self._tmp.name)
        folder.chmod(0o777)
        self.port = _free_port() if port is None else port
        self._in_namespace = bool(prefix)
        hashed = subprocess.run(
            ["openssl", "passwd", "-apr1", password], capture_output=True, text=True, check=True
        ).stdout.strip()
        (folder / "htpasswd").write_text(f"{user}:{hashed}\n")
        (folder / "hosts").write_text("".join(f"{ip} {name}\n" for name, ip in hosts.items()))
        access = (
            _LOGIN.format(ncsa=NCSA_AUTH, folder=folder) if login else _OPEN.format(listen=listen)
        )
        conf = folder / "squid.conf"
        conf.write_text(
            _CONFIG.format(
                listen=listen,
                port=self.port,
                folder=folder,
                ncsa=NCSA_AUTH,
                ports=" ".join(str(p) for p in ports),
                access=access,
            )
        )
        for f in folder.iterdir():
            f.chmod(0o644)
        self.proc = subprocess.Popen(
            [*prefix, SQUID, "-N", "-f", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "HOME": str(folder)},
        )
        self._wait()
        self.url = (
            f"http://{user}:{password}@{listen}:{self.port}"
            if login
            else f"http://{listen}:{self.port}"
        )
        self.address = f"{listen}:{self.port}"

    def _wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                assert self.proc.stderr is not None
                raise RuntimeError(f"squid exited: {self.proc.stderr.read()!r} {self.log()}")
            if self._in_namespace:
                if "Accepting HTTP Socket connections" in self.log():
                    return
                time.sleep(0.1)
                continue
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.close()
        raise RuntimeError(f"squid did not listen within {START_TIMEOUT:g} s: {self.log()}")

    def log(self) -> str:
        path = self.folder / "cache.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def access_log(self) -> str:
        path = self.folder / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self._tmp.cleanup()

    def __enter__(self) -> Squid:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
