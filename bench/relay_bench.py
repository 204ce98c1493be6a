"""Relay throughput vs ``socat -b 262144`` as a pipe, and the relay's memory per idle offer.

Throughput
----------
The same two endpoints for every middle, so only the middle differs: a sender
``dd if=/dev/zero bs=256K`` whose stdout *is* a TCP socket, and a receiver
``dd of=/dev/null bs=256K`` whose stdin is the other socket (no Python in the
data path outside the middle).  This script only sets the sockets up (for the
relay: the ``OFFER``/``CONNECT``/``PAIRED`` handshake by hand), hands them to
``dd``, and times from starting the sender until the receiver has read EOF.
Bytes flow customer -> engineer.  Middles, interleaved, each run ``--runs``
times:

- zvkdiag relay: ``python -m zvkdiag relay --listen 127.0.0.1:0`` (child process)
- ``socat -b 262144 TCP-LISTEN:P,reuseaddr,bind=127.0.0.1 TCP:127.0.0.1:Q``
- ``socat`` with its default 8 KiB buffer (context)
- no middle: sender connected straight to the receiver (the ceiling, context)

Memory
------
A fresh relay, then N idle offers (``ZVK1 OFFER``, ID read back) from this
process; the relay's VmRSS before and after.  The relay allows 100
connections per source address by default, so the offers come from many
loopback source addresses (127.0.0.2, .3, ...) and the relay keeps its
defaults.  The open-file limit is raised for this process and the relay child.

Run: ``.venv/bin/python bench/relay_bench.py [--gib 2] [--runs 5]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from _common import RelayProcess, free_port, machine, raise_nofile, rss_kib, start_relay, table

from zvkdiag.wire import handshake

CHUNK: Final = 256 * 1024
TARGET_RATIO: Final = 0.8
OFFERS_PER_ADDRESS: Final = 50
OFFER_BATCH: Final = 500
COMMAND: Final = ".venv/bin/python bench/relay_bench.py"

Pair = tuple[socket.socket, socket.socket, int | None]  # sender, receiver, middle's pid


# -- endpoints ---------------------------------------------------------------------
def _recv_line(sock: socket.socket) -> bytes:
    """One handshake line, read byte by byte so nothing after it is swallowed."""
    line = bytearray()
    while not line.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            raise RuntimeError(f"connection closed after {bytes(line)!r}")
        line += b
    return bytes(line)


def _connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def offer(port: int, source: str = "127.0.0.1") -> tuple[socket.socket, str]:
    sock = _connect(port, source)
    sock.sendall(handshake.format_offer(None, None))
    reply = handshake.parse_reply(_recv_line(sock))
    if reply.kind != "id" or reply.session_id is None:
        raise RuntimeError(f"relay refused the offer: {reply}")
    return sock, reply.session_id


@contextlib.contextmanager
def relay_pair(relay: RelayProcess) -> Iterator[Pair]:
    customer, sid = offer(relay.port)
    engineer = _connect(relay.port)
    engineer.sendall(handshake.format_connect(sid))
    for sock in (engineer, customer):
        if _recv_line(sock) != handshake.PAIRED:
            raise RuntimeError("relay did not pair")
    yield customer, engineer, relay.pid


@contextlib.contextmanager
def socat_pair(buffer: int | None) -> Iterator[Pair]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = free_port()
        argv = ["socat"] + (["-b", str(buffer)] if buffer else [])
        argv += [
            f"TCP-LISTEN:{port},reuseaddr,bind=127.0.0.1",
            f"TCP:127.0.0.1:{listener.getsockname()[1]}",
        ]
        proc = subprocess.Popen(argv)
        try:
            sender = _retry_connect(port, proc)
            receiver, _ = listener.accept()
            yield sender, receiver, proc.pid
        finally:
            proc.terminate()
            proc.wait(5)


def _retry_connect(port: int, proc: subprocess.Popen[bytes]) -> socket.socket:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"socat exited with {proc.returncode}")
        try:
            return _connect(port)
        except ConnectionRefusedError:
            time.sleep(0.01)
    raise RuntimeError("socat did not listen")


@contextlib.contextmanager
def direct_pair() -> Iterator[Pair]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        sender = _connect(listener.getsockname()[1])
        receiver, _ = listener.accept()
        yield sender, receiver, None


def cpu_seconds(pid: int | None) -> float:
    """user + system CPU time of ``pid`` so far (0 for no process)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def push(pair: Pair, nbytes: int) -> tuple[float, float]:
    """dd -> sender socket ... receiver socket -> dd.

    Returns seconds until the receiver saw EOF and the CPU seconds the middle spent.
    """
    sender, receiver, pid = pair
    cpu0 = cpu_seconds(pid)
    recv = subprocess.Popen(
        ["dd", "of=/dev/null", f"bs={CHUNK}"], stdin=receiver.fileno(), stderr=subprocess.PIPE
    )
    t0 = time.perf_counter()
    send = subprocess.Popen(
        ["dd", "if=/dev/zero", f"bs={CHUNK}", f"count={nbytes // CHUNK}", "status=none"],
        stdout=sender.fileno(),
    )
    sender.close()  # the children hold the only copies now: EOF follows dd's exit
    receiver.close()
    _, err = recv.communicate()
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    send.wait()
    got = int(err.decode().strip().splitlines()[-1].split()[0])
    if got != nbytes or send.returncode or recv.returncode:
        raise RuntimeError(f"received {got} of {nbytes} bytes")
    return elapsed, cpu


# -- throughput ---------------------------------------------------------------------
@dataclass
class Middle:
    name: str
    pair: Callable[[], contextlib.AbstractContextManager[Pair]]
    seconds: list[float]
    cpu: list[float]


def bench_throughput(nbytes: int, runs: int) -> list[Middle]:
    with start_relay() as relay:
        middles = [
            Middle("zvkdiag relay", lambda: relay_pair(relay), [], []),
            Middle("socat -b 262144", lambda: socat_pair(CHUNK), [], []),
            Middle("socat (default 8 KiB buffer)", lambda: socat_pair(None), [], []),
            Middle("no middle (direct TCP)", direct_pair, [], []),
        ]
        for _ in range(runs):
            for m in middles:
                with m.pair() as pair:
                    seconds, cpu = push(pair, nbytes)
                m.seconds.append(seconds)
                m.cpu.append(cpu)
    return middles


def throughput_report(middles: list[Middle], nbytes: int, runs: int) -> str:
    gib = nbytes / 2**30

    def gbps(m: Middle) -> float:
        return nbytes / statistics.median(m.seconds) / 1e9

    relay, socat = middles[0], middles[1]
    # per-round ratios: each round runs every middle back to back, so a burst of
    # load from other processes on this shared machine hits one round, not one middle
    rounds = [s / r for r, s in zip(relay.seconds, socat.seconds, strict=True)]
    rows = []
    for m in middles:
        cpu = f"{statistics.median(m.cpu) / gib:.2f}" if m is not middles[-1] else "-"
        rows.append(
            [
                m.name,
                f"{gbps(m):.2f}",
                " ".join(f"{nbytes / s / 1e9:.2f}" for s in m.seconds),
                f"{gbps(m) / gbps(socat):.2f}x",
                cpu,
            ]
        )
    ratio = gbps(relay) / gbps(socat)
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    head = ["middle", "median GB/s", "each run GB/s", "vs socat -b 262144", "middle CPU s/GiB"]
    return "\n".join(
        [
            f"throughput: {gib:g} GiB in {CHUNK // 1024} KiB chunks, {runs} rounds, "
            "middles interleaved",
            "",
            table(head, rows),
            "",
            f"target relay >= {TARGET_RATIO}x socat -b 262144: {verdict} "
            f"(ratio of medians {ratio:.2f}x; per-round ratios "
            f"{' '.join(f'{x:.2f}' for x in rounds)}, median {statistics.median(rounds):.2f}x)",
        ]
    )


# -- memory -------------------------------------------------------------------------
def _source(i: int) -> str:
    n = 2 + i // OFFERS_PER_ADDRESS
    return f"127.0.{n // 256}.{n % 256}"


def open_offers(port: int, n: int) -> list[socket.socket]:
    """``n`` idle offers, in batches so the relay's accept backlog never overflows."""
    socks: list[socket.socket] = []
    for start in range(0, n, OFFER_BATCH):
        batch = [_connect(port, _source(i)) for i in range(start, min(n, start + OFFER_BATCH))]
        for s in batch:
            s.sendall(handshake.format_offer(None, None))
        for s in batch:
            if handshake.parse_reply(_recv_line(s)).kind != "id":
                raise RuntimeError("relay refused an offer")
        socks.extend(batch)
    return socks


def bench_memory(n: int) -> tuple[int, int]:
    """(RSS before, RSS with ``n`` idle offers) of a fresh relay, in KiB."""
    with start_relay(nofile=n + 100) as relay:
        time.sleep(0.3)  # let start-up settle
        before = rss_kib(relay.pid)
        socks = open_offers(relay.port, n)
        try:
            time.sleep(0.3)
            after = rss_kib(relay.pid)
        finally:
            for s in socks:
                s.close()
    return before, after


def memory_report(results: dict[int, tuple[int, int]]) -> str:
    rows = [
        [
            f"{n:,}",
            f"{before / 1024:.1f}",
            f"{after / 1024:.1f}",
            f"{(after - before) * 1024 / n:,.0f}",
        ]
        for n, (before, after) in results.items()
    ]
    head = ["idle offers", "relay RSS before MiB", "RSS with offers MiB", "bytes per offer"]
    return "\n".join(
        [
            f"memory: fresh relay per row, default limits, offers from 127.0.0.x "
            f"({OFFERS_PER_ADDRESS} per source address)",
            "",
            table(head, rows),
        ]
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gib", type=float, default=2.0, help="GiB per throughput run (default 2)")
    p.add_argument("--runs", type=int, default=5, help="rounds over all middles (default 5)")
    p.add_argument("--offers", type=int, nargs="*", default=[1000, 10_000])
    args = p.parse_args()
    nbytes = int(args.gib * 2**30) // CHUNK * CHUNK
    limit = raise_nofile(max(args.offers, default=0) + 200)
    offers = [n for n in args.offers if n + 100 <= limit]
    print(f"command: {COMMAND} --gib {args.gib:g} --runs {args.runs}")
    print(f"machine: {machine()}\n")
    middles = bench_throughput(nbytes, args.runs)
    print(throughput_report(middles, nbytes, args.runs) + "\n")
    print(memory_report({n: bench_memory(n) for n in offers}))
    skipped = sorted(set(args.offers) - set(offers))
    if skipped:
        print(f"skipped (open-file limit {limit}): {skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
