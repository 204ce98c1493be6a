"""An HTTP CONNECT proxy on loopback that demands NTLM (or Negotiate), for tests.

The login is checked by ``pyspnego``'s server side, which reads the users from
the file named by the ``NTLM_USER_FILE`` environment variable (lines
``DOMAIN:user:password``; an empty domain for a user named without one). The
proxy writes that file and sets the variable for this process while it runs.

NTLM is bound to its connection: the negotiate token, the challenge (in a 407)
and the authenticate token must share one TCP connection, and the tunnel opens
on that connection. ``hosts`` makes made-up names resolve inside the proxy only
(like squid's ``hosts_file``); any other name is refused with 502, so a test
that reaches such a name proves its bytes went through this proxy.
"""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import spnego
import spnego.exceptions

from zvkdiag.engineer.loopthread import LoopThread

__all__ = ["NtlmProxy", "Tunnel", "shutdown"]

MAX_HEAD: Final = 16 * 1024
_BODY: Final = b"<html><body>Proxy login required</body></html>\n"


@dataclass(frozen=True)
class Tunnel:
    """A tunnel the proxy opened: the target, the user it proved, and the login's rounds.

    ``connection`` counts the proxy's accepted connections from 1; ``requests``
    is how many CONNECT requests that connection carried up to the tunnel.
    """

    target: str
    user: str
    scheme: str
    connection: int
    requests: int


class NtlmProxy:
    """CONNECT proxy on 127.0.0.1:``port`` demanding ``scheme`` (``NTLM`` or ``Negotiate``).

    ``users``: (domain, user, password) triples. ``also_basic``: offer Basic as well
    (and refuse it when used), to show the client prefers NTLM.
    """

    def __init__(
        self,
        *,
        hosts: dict[str, str],
        users: list[tuple[str, str, str]],
        scheme: str = "NTLM",
        also_basic: bool = False,
    ) -> None:
        if scheme not in ("NTLM", "Negotiate"):
            raise ValueError(f"scheme {scheme!r}: NTLM or Negotiate")
        self.hosts = dict(hosts)
        self.scheme = scheme
        self.also_basic = also_basic
        self.tunnels: list[Tunnel] = []
        self.schemes_seen: list[str] = []  # the scheme of every Proxy-Authorization received
        self.refused: list[str] = []  # why each failed login was refused
        self._connections = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tmp = tempfile.TemporaryDirectory(prefix="zvkdiag-ntlm-")
        users_file = Path(self._tmp.name) / "ntlm_users"
        users_file.write_text("".join(f"{d}:{u}:{p}\n" for d, u, p in users))
        self._old_env = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = str(users_file)
        self._lt = LoopThread("zvkdiag-ntlm-proxy")
        self._server = self._lt.call(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        self.address = f"127.0.0.1:{self.port}"

    def url(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@{self.address}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._connections += 1
        connection = self._connections
        context: spnego.ContextProxy | None = None
        try:
            for requests in range(1, 10):
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > MAX_HEAD:
                    return
                method, target, headers = _parse(head)
                if method != "CONNECT":
                    writer.write(_response(405, "Method Not Allowed", close=True))
                    return
                auth = headers.get("proxy-authorization", "")
                scheme, _, token = auth.partition(" ")
                if scheme:
                    self.schemes_seen.append(scheme)
                if scheme.lower() != self.scheme.lower() or not token:
                    context = None
                    writer.write(self._challenge())
                    continue
                if context is None:
                    context = spnego.server(protocol=self.scheme.lower())
                try:
                    out = context.step(base64.b64decode(token))
                except (spnego.exceptions.SpnegoError, ValueError) as exc:
                    self.refused.append(str(exc))
                    context = None
                    writer.write(self._challenge())
                    continue
                if not context.complete:
                    writer.write(self._challenge(out))
                    continue
                await self._tunnel(
                    reader,
                    writer,
                    target,
                    out,
                    Tunnel(target, context.client_principal or "", scheme, connection, requests),
                )
                return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
            return
        finally:
            writer.close()

    def _challenge(self, token: bytes | None = None) -> bytes:
        offer = [f"Proxy-Authenticate: {self.scheme}"]
        if token:
            offer = [f"Proxy-Authenticate: {self.scheme} {base64.b64encode(token).decode()}"]
        elif self.also_basic:
            offer.append('Proxy-Authenticate: Basic realm="zvk-test"')
        return _response(407, "Proxy Authentication Required", *offer)

    async def _tunnel(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        target: str,
        final: bytes | None,
        tunnel: Tunnel,
    ) -> None:
        host, _, port = target.rpartition(":")
        address = self.hosts.get(host.lower())
        if address is None or not port.isdigit():
            writer.write(_response(502, "Bad Gateway", close=True))
            return
        try:
            up_r, up_w = await asyncio.open_connection(address, int(port))
        except OSError:
            writer.write(_response(502, "Bad Gateway", close=True))
            return
        self.tunnels.append(tunnel)
        extra = (
            f"Proxy-Authenticate: {self.scheme} {base64.b64encode(final).decode()}\r\n"
            if final
            else ""
        )
        writer.write(f"HTTP/1.1 200 Connection established\r\n{extra}\r\n".encode())
        await asyncio.gather(_pump(reader, up_w), _pump(up_r, writer), return_exceptions=True)

    def close(self) -> None:
        shutdown(self._lt, self._server, self._tasks)
        if self._old_env is None:
            os.environ.pop("NTLM_USER_FILE", None)
        else:
            os.environ["NTLM_USER_FILE"] = self._old_env
        self._tmp.cleanup()

    def __enter__(self) -> NtlmProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def shutdown(lt: LoopThread, server: asyncio.Server, tasks: set[asyncio.Task[Any]]) -> None:
    """Stop a test proxy's server and its connection tasks, then its loop thread."""

    async def _close() -> None:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    lt.call(_close())
    lt.stop()


def _parse(head: bytes) -> tuple[str, str, dict[str, str]]:
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return method, target, headers


def _response(status: int, reason: str, *headers: str, close: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", *headers, f"Content-Length: {len(_BODY)}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + _BODY


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
