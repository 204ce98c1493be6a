"""A TCP forwarder that holds every chunk for a fixed time: the delay of a slow line.

This kernel has no ``netem``, so the rate of a shaped line comes from ``tbf``
(``zvkdiag.testing.shaping``) and its delay from here: each chunk read from
one side is written to the other ``delay`` seconds after it arrived, in
order, in each direction.  Reading stops while ``MAX_QUEUED`` chunks wait, so
a sender faster than the line meets backpressure instead of filling memory.

Run it inside a namespace: ``python -m zvkdiag.testing.delayline --listen
HOST:PORT --to HOST:PORT --delay 0.03``; it prints ``listening HOST:PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Final

__all__ = ["forward", "main", "serve"]

CHUNK: Final = 64 * 1024
MAX_QUEUED: Final = 64  # chunks held per direction before reading pauses


async def _reader_side(
    reader: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes]], delay: float
) -> None:
    loop = asyncio.get_running_loop()
    while data := await reader.read(CHUNK):
        await queue.put((loop.time() + delay, data))
    await queue.put((loop.time() + delay, b""))


async def _writer_side(
    writer: asyncio.StreamWriter, queue: asyncio.Queue[tuple[float, bytes]]
) -> None:
    loop = asyncio.get_running_loop()
    while True:
        release_at, data = await queue.get()
        wait = release_at - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if not data:
            with contextlib.suppress(OSError):
                writer.write_eof()
            return
        writer.write(data)
        await writer.drain()


async def forward(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float) -> None:
    """Copy ``src`` to ``dst``, each chunk ``delay`` seconds after it arrived."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(MAX_QUEUED)
    reading = asyncio.create_task(_reader_side(src, queue, delay))
    try:
        await _writer_side(dst, queue)
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await reading


async def _pair(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    target: tuple[str, int],
    delay: float,
) -> None:
    try:
        up_r, up_w = await asyncio.open_connection(*target)
    except OSError:
        writer.close()
        return
    try:
        await asyncio.gather(forward(reader, up_w, delay), forward(up_r, writer, delay))
    except OSError:
        pass
    finally:
        for w in (writer, up_w):
            w.close()


async def serve(listen: tuple[str, int], target: tuple[str, int], delay: float) -> None:
    """Accept on ``listen`` and forward each connection to ``target``, delayed both ways."""
    server = await asyncio.start_server(
        lambda r, w: _pair(r, w, target, delay), listen[0], listen[1]
    )
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m zvkdiag.testing.delayline")
    p.add_argument("--listen", type=_address, required=True)
    p.add_argument("--to", type=_address, required=True)
    p.add_argument("--delay", type=float, required=True, help="one-way delay in seconds")
    a = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(a.listen, a.to, a.delay))


if __name__ == "__main__":
    main(sys.argv[1:])
