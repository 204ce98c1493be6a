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
import threading
import time
import urllib.request
from pathlib import Path
from typing import Final

from _common import PYTHON, free_port, machine, raise_nofile, rss_kib, start_relay, table

CHUNK: Final = 64 * 1024
TAIL_TIMEOUT: Final = 30.0  # reading what is still on the way after the window
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
    moved = sum(c[1] for c in counts if isinstance(c, tuple))
    written = sum(c[0] for c in counts if isinstance(c, tuple))
    read_all = sum(c[2] for c in counts if isinstance(c, tuple))
    stream_errors = sum(isinstance(c, BaseException) for c in counts)
    for c in counts:
        if isinstance(c, BaseException):
            print(f"stream error: {c!r}", file=sys.stderr)
            break
    print(
        json.dumps(
            {"bytes": moved, "written": written, "read": read_all, "stream_errors": stream_errors}
        ),
        flush=True,
    )
    if server is not None:
        server.close()


async def _stream(writer: object, reader: object, stop: float) -> tuple[int, int, int]:
    """(bytes written by the customer, read by the engineer before ``stop``, read in all)."""
    assert isinstance(writer, asyncio.StreamWriter) and isinstance(reader, asyncio.StreamReader)

    async def write() -> int:
        block, sent = bytes(CHUNK), 0
        while time.monotonic() < stop:
            writer.write(block)
            sent += len(block)
            await writer.drain()
        writer.write_eof()  # the reader reads the tail to EOF: every byte is accounted for
        return sent

    async def read() -> tuple[int, int]:
        """(bytes read before ``stop``, all bytes read until EOF: what was written)."""
        window = total = 0
        while True:
            try:
                data = await asyncio.wait_for(
                    reader.read(1 << 20), TAIL_TIMEOUT + max(0.0, stop - time.monotonic())
                )
            except TimeoutError:
                break
            if not data:
                break
            total += len(data)
            if time.monotonic() < stop:
                window += len(data)
        return window, total

    sent, (got, total) = await asyncio.gather(write(), read())
    writer.close()
    await writer.wait_closed()
    return sent, got, total


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


def _cpu_sum(pids: list[int]) -> tuple[int, int]:
    times = [_cpu_ns(pid) for pid in pids]
    return sum(t[0] for t in times), sum(t[1] for t in times)


def _cpu_ns(pid: int) -> tuple[int, int]:
    """(main thread, other threads) CPU time of ``pid`` in ns, from schedstat (the relay's
    only other thread is the /metrics server)."""
    main = other = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            ns = int((task / "schedstat").read_text().split()[0])
            if task.name == str(pid):
                main += ns
            else:
                other += ns
    return main, other


class Scraper(threading.Thread):
    """GET /metrics every second; keep each scrape's wall time and size."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.times, self.sizes = url, [], []  # type: ignore[var-annotated]
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(1.0):
            t0 = time.perf_counter()
            body = _get(self.url)
            self.times.append(time.perf_counter() - t0)
            self.sizes.append(len(body))


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return bytes(resp.read())


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (x.name, tuple(sorted(x.labels.items()))): x.value
        for fam in text_string_to_metric_families(_get(url).decode())
        for x in fam.samples
    }


RESULT: dict[str, object] = {}


def run_middle(
    middle: Middle, args: argparse.Namespace, metrics_url: str = "", label: str = ""
) -> list[str]:
    mode, ports = middle
    relay_pids = sorted({pid for _, _, pid in ports})
    loop = asyncio.new_event_loop()
    scraper = Scraper(metrics_url) if metrics_url else None
    if scraper:
        scraper.start()
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
    cpu0 = _cpu_sum(relay_pids) if mode == "relay" else (0, 0)
    scrapes0 = (len(scraper.times), cpu0[1]) if scraper else (0, 0)
    while time.monotonic() - start < args.seconds:
        peak = max(peak, _rss(middle))
        time.sleep(0.5)
    cpu1 = _cpu_sum(relay_pids) if mode == "relay" else (0, 0)
    if scraper:
        RESULT["scrapes_streaming"] = len(scraper.times) - scrapes0[0]
        RESULT["scrape_cpu_ns_streaming"] = cpu1[1] - scrapes0[1]
    relay_cpu = (sum(cpu1) - sum(cpu0)) / 1e9 / args.seconds
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
    if sum(d["written"] for d in done) != sum(d["read"] for d in done):
        errors += 1  # a byte written was never read
    if scraper:
        scraper.halt.set()
        scraper.join()
        RESULT["scraper"] = scraper
        RESULT["expected"] = {
            ("zvkdiag_relay_connections_total", (("result", "paired"), ("transport", "tcp"))): (
                2 * streams
            ),
            ("zvkdiag_relay_connections_total", (("result", "lonely"), ("transport", "tcp"))): (
                args.offers - idle_errors
            ),
            ("zvkdiag_relay_bytes_total", (("direction", "to_engineer"),)): sum(
                d["written"] for d in done
            ),
            ("zvkdiag_relay_bytes_total", (("direction", "to_customer"),)): 0,
            ("zvkdiag_relay_pairing_wait_seconds_count", ()): streams,
            ("zvkdiag_relay_session_duration_seconds_count", ()): streams,
            ("zvkdiag_relay_pairs_active", ()): 0,
            ("zvkdiag_relay_offers_waiting", ()): 0,
            ("zvkdiag_relay_rejections_total", (("reason", "bad_handshake"),)): 0,
        }
        deadline = time.monotonic() + 15
        while True:
            got = _samples(metrics_url)
            if all(got.get(k) == v for k, v in RESULT["expected"].items()):  # type: ignore[attr-defined]
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        RESULT["scraped"] = got
    return [
        label or mode,
        f"{args.offers - idle_errors:,}",
        f"{streams:,}",
        f"{moved / args.seconds / 1e6:,.0f}",
        f"{before / 1024:.0f}",
        f"{with_offers / 1024:.0f}",
        f"{peak / 1024:.0f}",
        f"{relay_cpu * 100:.0f}" if mode == "relay" else "-",
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
    parser.add_argument(
        "--metrics", action="store_true", help="a second relay row with /metrics scraped every 1 s"
    )
    parser.add_argument("--no-socat", action="store_true", help="skip the socat row")
    parser.add_argument(
        "--two-relays",
        action="store_true",
        help="a row with two relay processes (shards 1 and 2), the workers split between them",
    )
    args = parser.parse_args()
    if args.worker:
        args.mode, args.host = args.worker, "127.0.0.1"
        asyncio.run(worker(args))
        return
    raise_nofile(NOFILE)
    flags = (" --metrics" if args.metrics else "") + (" --no-socat" if args.no_socat else "")
    flags += " --two-relays" if args.two_relays else ""
    print(f"{COMMAND} --pairs {args.pairs} --offers {args.offers} --seconds {args.seconds}{flags}")
    print(f"({machine()})\n")
    with start_relay(nofile=NOFILE) as relay:
        ports = [(relay.port, 0, relay.pid)] * args.workers
        rows = [run_middle(("relay", ports), args)]
    if args.metrics:
        with start_relay("--metrics", "127.0.0.1:0", nofile=NOFILE) as relay:
            ports = [(relay.port, 0, relay.pid)] * args.workers
            rows.append(run_middle(("relay", ports), args, relay.metrics_url, "relay + /metrics"))
    if args.two_relays:
        with (
            start_relay("--shard", "1", nofile=NOFILE) as one,
            start_relay("--shard", "2", nofile=NOFILE) as two,
        ):
            pair = [(one.port, 0, one.pid), (two.port, 0, two.pid)]
            ports = [pair[i % 2] for i in range(args.workers)]
            rows.append(run_middle(("relay", ports), args, label="2 relays"))
    if not args.no_socat:
        rows.append(socat_row(args))
    header = [
        "middle",
        "idle offers",
        "streams",
        "aggregate MB/s",
        "RSS start MiB",
        "RSS +idle MiB",
        "RSS peak streaming MiB",
        "relay CPU %",
        "errors",
    ]
    print(table(header, rows))
    if args.metrics:
        _metrics_report(args)


def _metrics_report(args: argparse.Namespace) -> None:
    scraper = RESULT["scraper"]
    assert isinstance(scraper, Scraper)
    times = sorted(scraper.times)
    n = int(RESULT["scrapes_streaming"])  # type: ignore[call-overload]
    cpu_ms = int(RESULT["scrape_cpu_ns_streaming"]) / 1e6 / max(1, n)  # type: ignore[call-overload]
    print(
        f"\n/metrics: {len(times)} scrapes, wall ms median {times[len(times) // 2] * 1e3:.1f} "
        f"max {times[-1] * 1e3:.1f}, {scraper.sizes[-1]:,} bytes; the relay's metrics thread "
        f"spent {cpu_ms:.2f} ms CPU per scrape while streaming ({n} scrapes, schedstat)\n"
    )
    expected, got = RESULT["expected"], RESULT["scraped"]
    assert isinstance(expected, dict) and isinstance(got, dict)
    rows = []
    for (name, labels), want in expected.items():
        have = got.get((name, labels))
        label = ",".join(f"{k}={v}" for k, v in labels)
        rows.append([f"{name}{{{label}}}", f"{want:,}", f"{have:,.0f}", str(have == want)])
    print(table(["counter", "the load did", "/metrics says", "match"], rows))


if __name__ == "__main__":
    main()
