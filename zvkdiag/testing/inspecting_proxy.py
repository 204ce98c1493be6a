"""A company's TLS inspection, for tests: a CONNECT proxy that opens the TLS inside its tunnels.

After ``200 Connection established`` it answers the client's TLS itself, with a
certificate its own CA (``ca``) issued for the target's name, and opens a second
TLS connection to the target that trusts ``upstream_ca``; the plaintext passes
between the two. A client that does not trust ``ca`` refuses the first TLS
(``refused`` counts those); a client that does gets through, and the proxy sees
only what runs inside: for zvkdiag, SPAKE2 and SSH, never a readable session.
``hosts`` makes made-up names resolve inside the proxy only, as in the other
test proxies.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path
from typing import Any

from zvkdiag.engineer.loopthread import LoopThread
from zvkdiag.testing.ntlm_proxy import MAX_HEAD, _parse, _pump, _response, shutdown
from zvkdiag.testing.tls import ThrowawayCA

__all__ = ["InspectingProxy"]


class InspectingProxy:
    """CONNECT proxy on 127.0.0.1 (no login) that inspects the TLS of every tunnel."""

    def __init__(self, folder: Path, *, hosts: dict[str, str], upstream_ca: Path) -> None:
        self.hosts = {name.lower(): ip for name, ip in hosts.items()}
        self.ca = ThrowawayCA(folder, *self.hosts)
        self._upstream = ssl.create_default_context(cafile=str(upstream_ca))
        self.inspected: list[str] = []  # targets whose TLS it opened on both sides
        self.refused = 0  # clients that refused the inspection's certificate
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lt = LoopThread("zvkdiag-inspecting-proxy")
        self._server = self._lt.call(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = _parse(head[:MAX_HEAD])
            host, _, port = target.rpartition(":")
            address = self.hosts.get(host.lower())
            if method != "CONNECT" or address is None or not port.isdigit():
                writer.write(_response(502, "Bad Gateway", close=True))
                return
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            try:
                await writer.start_tls(self.ca.server_context())
            except (ssl.SSLError, OSError):
                self.refused += 1
                return
            up_r, up_w = await asyncio.open_connection(
                address, int(port), ssl=self._upstream, server_hostname=host
            )
            self.inspected.append(target)
            await asyncio.gather(_pump(reader, up_w), _pump(up_r, writer), return_exceptions=True)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
            return
        finally:
            writer.close()

    def wait_refused(self, count: int, timeout: float = 10.0) -> bool:
        """True once ``count`` clients refused the inspection (the client may notice first)."""
        deadline = time.monotonic() + timeout
        while self.refused < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.refused == count

    def close(self) -> None:
        shutdown(self._lt, self._server, self._tasks)

    def __enter__(self) -> InspectingProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
