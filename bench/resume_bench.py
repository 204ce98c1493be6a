"""Resuming a dropped connection: time to the next frame, and what the layer costs.

1. Resume: a real relay process, agent (AutoConsent) and engineer in this process,
   both reaching the relay through a ``CuttableLink``; the engineer watches a
   small Xvfb screen with ``Session.frames()``. Each round cuts the link for
   --down seconds, restores it, and times from the restore to the next frame
   the engineer's side applies (target: at most 2 s). The frame should be a
   keyframe (the agent asks for one on resumption).
2. Cost: asyncssh's client and server on one loopback TCP pair, a channel
   carrying --mb MB, once straight on the sockets (``run_client``/``run_server``,
   the path before the resumable stream) and once on ``ResumableTransport``
   (without a relay: nothing to redial). Same run, alternating, medians.

Run: ``.venv/bin/python bench/resume_bench.py [--rounds 5] [--down 2] [--mb 200] [--runs 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import threading
import time
from typing import Any

import asyncssh

import zvkdiag
from zvkdiag.resume.secret import ResumeSecret
from zvkdiag.resume.transport import ResumableTransport, ResumeTunnel
from zvkdiag.testing.cut import CuttableLink
from zvkdiag.testing.fakes import AgentThread, AutoConsent
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.xvfb import xvfb
from zvkdiag.wire.ssh import CHANNEL_MAX_PACKET, CHANNEL_WINDOW, ENCRYPTION_ALGS


# -- 1. time from the network coming back to the next frame --------------------------------------
def resume_rounds(rounds: int, down: float) -> list[tuple[float, bool]]:
    relay = Proc("relay", "--listen", "127.0.0.1:0")
    try:
        address = relay.expect(r"Relay listening on (\S+)").group(1)
        with (
            CuttableLink(address) as link,
            AgentThread(AutoConsent(), relay=link.address) as agent,
            zvkdiag.connect(
                agent.session_id, agent.password, relay=link.address, engineer="Bench"
            ) as s,
        ):
            return _watch(s, link, rounds, down)
    finally:
        relay.stop()


def _watch(s: zvkdiag.Session, link: CuttableLink, rounds: int, down: float) -> list[Any]:
    arrivals: list[tuple[float, bool]] = []
    stop = threading.Event()

    async def view() -> None:
        async for got in s.frames():
            arrivals.append((time.monotonic(), got.frame.keyframe))
            if stop.is_set():
                return

    viewer = threading.Thread(target=lambda: asyncio.run(view()), daemon=True)
    viewer.start()
    while not arrivals:
        time.sleep(0.05)
    results = []
    for _ in range(rounds):
        time.sleep(1.0)
        link.cut()
        time.sleep(down)
        seen = len(arrivals)
        back = time.monotonic()
        link.restore()
        while len(arrivals) == seen:
            time.sleep(0.005)
        at, keyframe = arrivals[seen]
        results.append((at - back, keyframe))
    stop.set()
    return results


# -- 2. the layer's cost: SSH on raw sockets vs SSH on the resumable stream ------------------
def _pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as lsock:
        a = socket.create_connection(lsock.getsockname())
        b, _ = lsock.accept()
    for s in (a, b):
        s.setblocking(False)
    return a, b


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return False


async def _ssh_rate(resumable: bool, nbytes: int) -> float:
    a, b = _pair()
    key = asyncssh.generate_private_key("ssh-ed25519")
    common: dict[str, Any] = {
        "config": None,
        "encryption_algs": list(ENCRYPTION_ALGS),
        "window": CHANNEL_WINDOW,
        "max_pktsize": CHANNEL_MAX_PACKET,
        "encoding": None,
        "keepalive_interval": 0,
    }
    chunk = b"\0" * CHANNEL_MAX_PACKET

    async def handle(proc: asyncssh.SSHServerProcess[bytes]) -> None:
        for _ in range(0, nbytes, len(chunk)):
            proc.stdout.write(chunk)
            await proc.stdout.drain()
        proc.exit(0)

    server_opts = {
        **common,
        "server_factory": _Server,
        "server_host_keys": [key],
        "process_factory": handle,
    }
    client_opts = {**common, "known_hosts": None, "username": "bench", "agent_path": None}
    if resumable:
        secret = bytes(32)
        st = ResumableTransport(ResumeSecret(secret, "123456789", "customer"), redial=None)
        ct = ResumableTransport(ResumeSecret(secret, "123456789", "engineer"), redial=None)
        srv = asyncssh.connect_reverse("c", tunnel=ResumeTunnel(st, a), **server_opts)
        cli = asyncssh.connect("s", tunnel=ResumeTunnel(ct, b), **client_opts)
    else:
        srv = asyncssh.run_server(a, **server_opts)
        cli = asyncssh.run_client(b, **client_opts)
    server, client = await asyncio.gather(srv, cli)
    async with client:
        t0 = time.perf_counter()
        proc = await client.create_process("x", encoding=None)
        got = 0
        while data := await proc.stdout.read(1 << 20):
            got += len(data)
        rate = got / (time.perf_counter() - t0) / 1e6
    server.close()
    return rate


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--down", type=float, default=2.0)
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    with xvfb(640, 480) as server:
        os.environ["DISPLAY"] = server.display
        rounds = resume_rounds(args.rounds, args.down)
    times = [t for t, _ in rounds]
    print(f"network back -> next frame, {args.rounds} cuts of {args.down:g} s:")
    print(
        f"  median {statistics.median(times):.2f} s, max {max(times):.2f} s, "
        f"keyframes {sum(k for _, k in rounds)}/{len(rounds)}  (target <= 2 s)"
    )

    nbytes = args.mb * 1_000_000
    raw, res = [], []
    for _ in range(args.runs):
        raw.append(asyncio.run(_ssh_rate(False, nbytes)))
        res.append(asyncio.run(_ssh_rate(True, nbytes)))
    r, q = statistics.median(raw), statistics.median(res)
    print(f"SSH channel, {args.mb} MB, median of {args.runs}:")
    print(f"  {'straight on the socket':26} {r:8.1f} MB/s")
    print(f"  {'on the resumable stream':26} {q:8.1f} MB/s   x{q / r:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
