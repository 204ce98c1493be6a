"""Hostile middles for tests: a TCP proxy that records or rewrites the bytes it forwards.

Put it between an engineer and the relay (or the agent) and it sees exactly
what a relay operator or the network sees.  It also counts the bytes per
direction, which is what a link between the two ends carries (benchmarks put
it between a browser and JupyterLab with ``record=False``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from zvkdiag.engineer.loopthread import LoopThread

__all__ = ["TcpProxy", "flip_byte_after"]

Rewrite = Callable[[str, int, bytes], bytes]


def flip_byte_after(offset: int, direction: str = "up") -> Rewrite:
    """A rewrite that flips one bit of the first byte past ``offset`` in ``direction``."""

    def rewrite(d: str, position: int, data: bytes) -> bytes:
        if d != direction or not position <= offset < position + len(data):
            return data
        i = offset - position
        return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]

    return rewrite


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``up`` is client→target, ``down`` back.

    ``counted`` holds the bytes forwarded per direction over all connections;
    ``recorded`` the bytes themselves unless ``record`` is false.
    """

    def __init__(self, target: str, *, rewrite: Rewrite | None = None, record: bool = True) -> None:
        self.target = target
        self.rewrite = rewrite
        self.record = record
        self.recorded: dict[str, bytearray] = {"up": bytearray(), "down": bytearray()}
        self.counted: dict[str, int] = {"up": 0, "down": 0}
        self._pumps: set[asyncio.Future[Any]] = set()
        self._lt = LoopThread("zvkdiag-proxy")
        self._server = self._lt.call(self._start())
        port = self._server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{port}"

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._client, "127.0.0.1", 0)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.target.rsplit(":", 1)
        try:
            up_r, up_w = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.close()
            return
        pumps = asyncio.gather(
            self._pump("up", reader, up_w),
            self._pump("down", up_r, writer),
            return_exceptions=True,
        )
        self._pumps.add(pumps)
        try:
            await pumps
        finally:
            self._pumps.discard(pumps)

    async def _pump(
        self, direction: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        position = 0
        try:
            while data := await reader.read(65536):
                self.counted[direction] += len(data)
                if self.record:
                    self.recorded[direction] += data
                out = self.rewrite(direction, position, data) if self.rewrite else data
                position += len(data)
                writer.write(out)
                await writer.drain()
        finally:
            writer.close()

    def seen(self) -> bytes:
        return bytes(self.recorded["up"] + self.recorded["down"])

    def close(self) -> None:
        async def _close() -> None:
            self._server.close()
            for pumps in list(self._pumps):  # each closes its writers as it unwinds
                pumps.cancel()
            await asyncio.gather(*self._pumps, return_exceptions=True)

        self._lt.call(_close())
        self._lt.stop()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
