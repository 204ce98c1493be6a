"""The way to the relay: raw TCP vs wss vs wss through squid, in one run.

Relay: a ``zvkdiag relay`` child process with both listeners (raw TCP and wss,
certificate from a throwaway CA that ``SSL_CERT_FILE`` points at). Squid: a
private instance on loopback with Basic login (``zvkdiag.testing.squid``). The
agent (AutoConsent) and the engineer run in this process, on their own loop
threads, for every path alike: the ratios compare paths, the absolute figures
are lower bounds (one interpreter, 2 shared cores).

- connect: ``zvkdiag.connect`` until the session is allowed (median of --runs)
- download: ``Session.run(["head", "-c", N, "/dev/zero"])`` of --mb MB, MB/s (median)
- memory: relay VmRSS before and after --offers idle offers, per offer: raw TCP (the
  peer) and wss, each on a fresh relay of its own

Run: ``.venv/bin/python bench/network_bench.py [--runs 5] [--mb 15] [--offers 200]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

import zvkdiag
from zvkdiag.testing.fakes import AgentThread, AutoConsent
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.squid import Squid
from zvkdiag.testing.tls import ThrowawayCA
from zvkdiag.transport.address import Route
from zvkdiag.transport.dial import open_route
from zvkdiag.wire import handshake

NAME = "relay.zvk.test"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def measure(relay: str, proxy: str | None, runs: int, nbytes: int) -> tuple[float, float]:
    connects, rates = [], []
    with AgentThread(AutoConsent(), relay=relay, proxy=proxy) as agent:
        for _ in range(runs):
            t0 = time.perf_counter()
            s = zvkdiag.connect(
                agent.session_id, agent.password, relay=relay, proxy=proxy, engineer="Bench"
            )
            connects.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            out = s.run(["head", "-c", str(nbytes), "/dev/zero"]).stdout
            rates.append(len(out) / (time.perf_counter() - t0) / 1e6)
            s.close()
            agent.fresh_password(agent.password)
    return statistics.median(connects) * 1000, statistics.median(rates)


async def idle_offers(
    port: int, n: int, carrier: Literal["tcp", "wss"] = "wss"
) -> list[socket.socket]:
    held = []
    for _ in range(n):
        sock = await open_route(Route(carrier, "127.0.0.1", port))
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(sock, handshake.format_offer(None, None))
        reply = b""
        while not reply.endswith(b"\n"):
            reply += await loop.sock_recv(sock, 1)
        held.append(sock)
    return held


def start_relay(ca: ThrowawayCA) -> tuple[Proc, int, int]:
    """A relay child with both listeners: (process, raw TCP port, wss port)."""
    relay = Proc(
        *("relay", "--listen", "127.0.0.1:0", "--listen-wss", "127.0.0.1:0"),
        *("--cert", str(ca.cert_file), "--key", str(ca.key_file)),
    )
    raw = relay.expect(r"Relay listening on \S+:(\d+)").group(1)
    wss = relay.expect(r"Relay listening for wss on \S+:(\d+)").group(1)
    return relay, int(raw), int(wss)


def offer_memory(ca: ThrowawayCA, carrier: Literal["tcp", "wss"], n: int) -> float:
    """KiB of RSS per idle offer of ``carrier``, on a relay of its own.

    A fresh relay each: offers opened after other work may reuse memory freed
    before and look cheaper than they are.
    """
    relay, raw_port, wss_port = start_relay(ca)
    try:
        return asyncio.run(
            _hold(relay.proc.pid, raw_port if carrier == "tcp" else wss_port, carrier, n)
        )
    finally:
        relay.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", type=int, default=15)
    ap.add_argument("--offers", type=int, default=200)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="zvkdiag-netbench-"))
    ca = ThrowawayCA(folder, NAME, "127.0.0.1")
    os.environ["SSL_CERT_FILE"] = str(ca.ca_file)
    raw_kib, wss_kib = (offer_memory(ca, c, args.offers) for c in ("tcp", "wss"))
    print(f"relay memory per idle offer ({args.offers} offers, a fresh relay each):")
    ratio = wss_kib / raw_kib if raw_kib > 0 else float("nan")
    print(f"  raw TCP {raw_kib:6.1f} KiB   wss {wss_kib:6.1f} KiB   wss/raw {ratio:.1f}")
    relay, raw_port, wss_port = start_relay(ca)
    try:
        with Squid(ports=[wss_port], hosts={NAME: "127.0.0.1"}) as squid:
            paths = {
                "raw TCP": (f"127.0.0.1:{raw_port}", None),
                "wss direct": (f"wss://127.0.0.1:{wss_port}", None),
                "wss via squid (Basic)": (f"wss://{NAME}:{wss_port}", squid.url),
            }
            nbytes = args.mb * 1_000_000
            results = {k: measure(r, p, args.runs, nbytes) for k, (r, p) in paths.items()}
            base = results["raw TCP"]
            print(f"{'path':24} {'connect ms':>11} {'download MB/s':>14} {'x raw':>6}")
            for k, (c, r) in results.items():
                print(f"{k:24} {c:11.1f} {r:14.1f} {r / base[1]:6.2f}")
    finally:
        relay.stop()
    return 0


async def _hold(pid: int, port: int, carrier: Literal["tcp", "wss"], n: int) -> float:
    warm = await idle_offers(port, 3, carrier)
    await asyncio.sleep(0.5)
    before = rss_kib(pid)
    held = await idle_offers(port, n, carrier)
    await asyncio.sleep(0.5)
    after = rss_kib(pid)
    for sock in warm + held:
        sock.close()
    return (after - before) / n


if __name__ == "__main__":
    sys.exit(main())
