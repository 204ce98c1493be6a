"""One relay under load: 10,000 idle offers plus 1,000 paired sessions streaming, beside socat.

Setup
-----
- The relay is one child process (``python -m zvkdiag relay``) with its default
  limits (100 connections per source address) and a raised open-file limit.
- 10,000 idle offers (``ZVK1 OFFER``, ID read back, then silence) are opened by
  this process from 127.0.0.2 ... (50 per source address) and stay open for
  the whole run.
- 1,000 paired sessions: ``--workers`` child processes (asyncio) each offer
  and connect their share by hand (``OFFER`` -> ID, ``CONNECT <id>`` ->
  ``PAIRED`` on both), from their own source addresses.  At a common start
  signal every customer socket writes 64 KiB chunks for ``--seconds`` and
  every engineer socket reads and counts; the aggregate is bytes read / time.
- socat as the middle for the same load: ``socat TCP-LISTEN:P,fork`` forwarding
  each connection to a sink in the worker; the same 1,000 writers and readers.
  The 10,000 idle connections are made to socat as well (each costs socat a
  forked child: shown for memory; socat has no notion of an offer).

Reported: aggregate MB/s for each middle, the middle's RSS (for socat: the sum
over all its processes), setup errors and stream errors.  Traffic only on
127.0.0.0/8; the run is bounded by ``--seconds`` plus setup.

Run: ``.venv/bin/python bench/load_bench.py [--pairs 1000] [--offers 10000] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

from _common import PYTHON, free_port, machine, raise_nofile, rss_kib, start_relay, table

CHUNK: Final = 64 * 1024
PER_ADDRESS: Final = 50
NOFILE: Final = 20_000
COMMAND: Final = ".venv/bin/python bench/load_bench.py"
OFFER: Final = b"ZVK1 OFFER\n"
_KEEP: list[object] = []


def _address(block: int, i: int) -> str:
    """127.<block>.x.y, PER_ADDRESS connections per address (x.y from 0.2 upwards)."""
    n = 2 + i // PER_ADDRESS
    return f"127.{block}.{n // 250}.{n % 250 + 1}"


async def _line(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readline(), 30)


async def _open(
    host: str, port: int, source: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port, local_addr=(source, 0), limit=1 << 20)


# -- idle offers (this process) -------------------------------------------------------------
async def idle_offers(host: str, port: int, n: int, zvk: bool) -> tuple[list[object], int]:
    conns: list[object] = []
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        try:
            reader, writer = await _open(host, port, _address(10, i))
            if zvk:
                writer.write(OFFER)
                if not (await _line(reader)).startswith(b"ID "):
                    errors += 1
            conns.append(writer)
        except (OSError, TimeoutError):
            errors += 1

    for start in range(0, n, 500):
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + 500))))
    return conns, errors


# -- workers: paired sessions --------------------------------------------------------------------
async def _pair_relay(host: str, port: int, block: int, i: int) -> tuple[object, object]:
    """Offer, connect, PAIRED on both; (customer writer, engineer reader)."""
    c_reader, c_writer = await _open(host, port, _address(block, 2 * i))
    c_writer.write(OFFER)
    sid = (await _line(c_reader)).split()[1]
    e_reader, e_writer = await _open(host, port, _address(block, 2 * i + 1))
    e_writer.write(b"ZVK1 CONNECT " + sid + b"\n")
    for reader in (c_reader, e_reader):
        if await _line(reader) != b"PAIRED\n":
            raise RuntimeError("not paired")
    _KEEP.append(e_writer)  # a collected StreamWriter closes its connection
    return c_writer, e_reader


async def worker(args: argparse.Namespace) -> None:
    raise_nofile(NOFILE)
    accepted: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()
    pairs: list[tuple[object, object]] = []
    errors = 0
    server = None
    if args.mode == "socat":

        async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            _KEEP.append(writer)
            await accepted.put(reader)

        server = await asyncio.start_server(sink, "127.0.0.1", args.sink_port, limit=1 << 20)
    for start in range(0, args.pairs, 100):
        batch = range(start, min(args.pairs, start + 100))
        if args.mode == "relay":
            coros = [_pair_relay(args.host, args.port, args.block, i) for i in batch]
        else:
            coros = [_open(args.host, args.port, _address(args.block, i)) for i in batch]
        for result in await asyncio.gather(*coros, return_exceptions=True):
            if isinstance(result, BaseException):
                errors += 1
            elif args.mode == "relay":
                pairs.append(result)
            else:
                pairs.append((result[1], None))
    if args.mode == "socat":
        for i in range(len(pairs)):
            try:
                reader = await asyncio.wait_for(accepted.get(), 30)
            except TimeoutError:
                errors += 1
                break
            pairs[i] = (pairs[i][0], reader)
    print(json.dumps({"ready": len(pairs), "errors": errors}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # GO
    stop = time.monotonic() + args.seconds
    counts = await asyncio.gather(
        *(_stream(w, r, stop) for w, r in pairs if r is not None), return_exceptions=True
    )
    moved = sum(c for c in counts if isinstance(c, int))
    stream_errors = sum(isinstance(c, BaseException) for c in counts)
    for c in counts:
        if isinstance(c, BaseException):
            print(f"stream error: {c!r}", file=sys.stderr)
            break
    print(json.dumps({"bytes": moved, "stream_errors": stream_errors}), flush=True)
    if server is not None:
        server.close()


async def _stream(writer: object, reader: object, stop: float) -> int:
    assert isinstance(writer, asyncio.StreamWriter) and isinstance(reader, asyncio.StreamReader)

    async def write() -> None:
        block = bytes(CHUNK)
        while time.monotonic() < stop:
            writer.write(block)
            await writer.drain()

    async def read() -> int:
        got = 0
        while time.monotonic() < stop:
            try:
                data = await asyncio.wait_for(
                    reader.read(1 << 20), max(0.01, stop - time.monotonic())
                )
            except TimeoutError:
                break
            if not data:
                break
            got += len(data)
        return got

    _, got = await asyncio.gather(write(), read())
    writer.close()
    return got


# -- the driver -----------------------------------------------------------------------------------
Middle = tuple[str, list[tuple[int, int, int]]]  # mode, per worker: (port, sink port, pid)


def _workers(middle: Middle, args: argparse.Namespace) -> list[subprocess.Popen[str]]:
    mode, ports = middle
    procs = []
    for w, (port, sink, _) in enumerate(ports):
        cmd = [
            PYTHON, __file__, "--worker", mode, "--port", str(port), "--sink-port", str(sink),
            "--pairs", str(args.pairs // len(ports)), "--block", str(20 + w),
            "--seconds", str(args.seconds),
        ]  # fmt: skip
        procs.append(
            subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        )
    return procs


def _tree_rss(pid: int) -> int:
    """RSS of ``pid`` plus all its children (socat forks one per connection), KiB."""
    total = rss_kib(pid)
    for child in _children(pid):
        with contextlib.suppress(OSError, RuntimeError):
            total += _tree_rss(child)
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _rss(middle: Middle) -> int:
    return sum(_tree_rss(pid) for pid in {pid for _, _, pid in middle[1]})


def run_middle(middle: Middle, args: argparse.Namespace) -> list[str]:
    mode, ports = middle
    loop = asyncio.new_event_loop()
    before = _rss(middle)
    idle, idle_errors = loop.run_until_complete(
        idle_offers("127.0.0.1", ports[0][0], args.offers, mode == "relay")
    )
    with_offers = _rss(middle)
    procs = _workers(middle, args)
    ready = [json.loads(p.stdout.readline()) for p in procs]  # type: ignore[union-attr]
    for p in procs:
        p.stdin.write("GO\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]
    start, peak = time.monotonic(), 0
    while time.monotonic() - start < args.seconds:
        peak = max(peak, _rss(middle))
        time.sleep(0.5)
    done = [json.loads(p.stdout.readline()) for p in procs]  # type: ignore[union-attr]
    for p in procs:
        p.wait(60)
    for w in idle:
        w.close()  # type: ignore[attr-defined]
    loop.run_until_complete(asyncio.sleep(0.5))
    loop.close()
    moved = sum(d["bytes"] for d in done)
    streams = sum(r["ready"] for r in ready)
    errors = idle_errors + sum(r["errors"] for r in ready) + sum(d["stream_errors"] for d in done)
    return [
        mode,
        f"{args.offers - idle_errors:,}",
        f"{streams:,}",
        f"{moved / args.seconds / 1e6:,.0f}",
        f"{before / 1024:.0f}",
        f"{with_offers / 1024:.0f}",
        f"{peak / 1024:.0f}",
        str(errors),
    ]


def socat_row(args: argparse.Namespace) -> list[str]:
    """One socat per worker, each forwarding to that worker's sink (one fork per connection)."""
    procs, ports = [], []
    for _ in range(args.workers):
        port, sink = free_port(), free_port()
        cmd = [
            "socat", f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,backlog=4096",
            f"TCP:127.0.0.1:{sink}",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, preexec_fn=_quiet_nofile, stderr=subprocess.DEVNULL)
        procs.append(proc)
        ports.append((port, sink, proc.pid))
    time.sleep(0.5)
    try:
        return run_middle(("socat", ports), args)
    finally:
        for proc in procs:
            for child in _children(proc.pid):
                with contextlib.suppress(OSError):
                    os.kill(child, signal.SIGTERM)
            proc.terminate()
            proc.wait(10)


def _quiet_nofile() -> None:
    raise_nofile(NOFILE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker", choices=["relay", "socat"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--sink-port", type=int, default=0)
    args = parser.parse_args()
    if args.worker:
        args.mode, args.host = args.worker, "127.0.0.1"
        asyncio.run(worker(args))
        return
    raise_nofile(NOFILE)
    print(f"{COMMAND} --pairs {args.pairs} --offers {args.offers} --seconds {args.seconds}")
    print(f"({machine()})\n")
    with start_relay(nofile=NOFILE) as relay:
        ports = [(relay.port, 0, relay.pid)] * args.workers
        rows = [run_middle(("relay", ports), args)]
    rows.append(socat_row(args))
    header = [
        "middle",
        "idle offers",
        "streams",
        "aggregate MB/s",
        "RSS start MiB",
        "RSS +idle MiB",
        "RSS peak streaming MiB",
        "errors",
    ]
    print(table(header, rows))


if __name__ == "__main__":
    main()
