"""A TCP forwarder whose path can be cut: the network dropping under a session, for tests.

``CuttableLink(target)`` forwards 127.0.0.1:<port> to ``target``. ``cut()``
aborts every forwarded connection (both ends see a reset) and refuses new ones
until ``restore()``, as a Wi-Fi drop or a VPN reconnect would. ``retarget()``
sends new connections elsewhere (a hostile relay, or a restarted one).
``rate`` (bytes/s per direction) slows the path so a transfer is still running
when the cut comes. Honest about being a test fake: it is not a shaper.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from zvkdiag.engineer.loopthread import LoopThread

__all__ = ["CuttableLink"]

_CHUNK = 64 * 1024


class CuttableLink:
    def __init__(self, target: str, *, rate: float = 0.0) -> None:
        self.target = target
        self.rate = rate
        self.down = False
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._lt = LoopThread("zvkdiag-link")
        self._server = self._lt.call(asyncio.start_server(self._client, "127.0.0.1", 0))
        port = self._server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{port}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            _reset(writer)
            return
        host, port = self.target.rsplit(":", 1)
        try:
            up_r, up_w = await asyncio.open_connection(host, int(port))
        except OSError:
            _reset(writer)
            return
        self.connections += 1
        self._writers |= {writer, up_w}
        try:
            await asyncio.gather(
                self._pump(reader, up_w), self._pump(up_r, writer), return_exceptions=True
            )
        finally:
            self._writers -= {writer, up_w}

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
                if self.rate:
                    await asyncio.sleep(len(data) / self.rate)
        finally:
            _reset(writer)

    def cut(self) -> None:
        """Reset every forwarded connection and refuse new ones."""

        async def _cut() -> None:
            self.down = True
            for w in list(self._writers):
                _reset(w)

        self._lt.call(_cut())

    def restore(self) -> None:
        self.down = False

    def retarget(self, target: str) -> None:
        self.target = target

    def close(self) -> None:
        self.cut()

        async def _close() -> None:
            self._server.close()

        self._lt.call(_close())
        self._lt.stop()

    def __enter__(self) -> CuttableLink:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.transport.abort()
