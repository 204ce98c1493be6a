"""Relay switch under load: N streaming pairs on the old relay while a new one takes the port.

Setup
-----
- Relay A (``--shard 1 --reuse-port``) on a fixed loopback port; N pairs paired
  on it by hand (``OFFER`` -> ID, ``CONNECT`` -> ``PAIRED``), each streaming
  customer -> engineer (``--chunk`` bytes every ``--interval`` s) and checking
  every byte arrives, for the whole run.
- From the start, a new offer every ``--offer-every`` s (``ZVK1 OFFER``, the ID
  read back, then closed).  The ID's first digit says which relay answered.
- At 1 s relay B (``--shard 2 --reuse-port``) starts on the same port; at 2 s A
  gets SIGTERM (drain); at ``--seconds`` the pairs end and A exits.

Reported: sessions cut (a stream that ended or broke before the end), offers
refused (no ID: ``ERR``, reset or refused connection; an ``ERR draining`` is
followed by one immediate re-offer, as the agent does, and counted apart as
"sent on"), offers answered by A and
by B after the SIGTERM, time from SIGTERM to A's ``Relay draining`` line (its
listener closed: from here only B takes offers) and from the pairs' end to A's
exit.  Traffic only on 127.0.0.1.

Run: ``.venv/bin/python bench/drain_bench.py [--pairs 200] [--seconds 6]``
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Final

from _common import PYTHON, free_port, machine, raise_nofile, table

COMMAND: Final = ".venv/bin/python bench/drain_bench.py"
OFFER: Final = b"ZVK1 OFFER\n"


@dataclass
class Relay:
    proc: subprocess.Popen[str]
    lines: queue.Queue[tuple[float, str]] = field(default_factory=queue.Queue)

    def pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.rstrip("\n")))

    def expect(self, text: str, timeout: float = 60.0) -> float:
        """Monotonic time of the first line containing ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            at, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if text in line:
                return at


def start(port: int, shard: int) -> Relay:
    cmd = [
        PYTHON, "-m", "zvkdiag", "relay", "--listen", f"127.0.0.1:{port}",
        "--reuse-port", "--shard", str(shard), "--max-per-address", "10000",
    ]  # fmt: skip
    relay = Relay(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
    threading.Thread(target=relay.pump, daemon=True).start()
    relay.expect("Relay listening on")
    return relay


async def _line(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readline(), 30)


async def pair(port: int) -> tuple[asyncio.StreamWriter, asyncio.StreamReader, object]:
    c_reader, c_writer = await asyncio.open_connection("127.0.0.1", port)
    c_writer.write(OFFER)
    sid = (await _line(c_reader)).split()[1]
    e_reader, e_writer = await asyncio.open_connection("127.0.0.1", port)
    e_writer.write(b"ZVK1 CONNECT " + sid + b"\n")
    for reader in (c_reader, e_reader):
        if await _line(reader) != b"PAIRED\n":
            raise RuntimeError("not paired")
    return c_writer, e_reader, e_writer


async def stream(
    writer: asyncio.StreamWriter, reader: asyncio.StreamReader, args: argparse.Namespace, end: float
) -> bool:
    """True if every byte written until ``end`` arrived (the session was not cut)."""
    block = bytes(args.chunk)

    async def write() -> int:
        sent = 0
        while time.monotonic() < end:
            writer.write(block)
            sent += len(block)
            await writer.drain()
            await asyncio.sleep(args.interval)
        return sent

    async def read(sent: asyncio.Future[int]) -> int:
        got, give_up = 0, end + 30
        while not sent.done() or got < sent.result():
            try:
                data = await asyncio.wait_for(reader.read(1 << 16), 0.2)
            except TimeoutError:
                if time.monotonic() > give_up:
                    raise
                continue
            if not data:
                break
            got += len(data)
        return got

    sent = asyncio.ensure_future(write())
    try:
        got = await read(sent)
        return got == await sent
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


@dataclass
class Offers:
    by_shard: dict[str, list[float]] = field(default_factory=lambda: {"1": [], "2": []})
    refused: list[tuple[float, str]] = field(default_factory=list)
    redirected: list[float] = field(default_factory=list)


async def offers(port: int, every: float, end: float, out: Offers) -> None:
    async def one(again: bool = True) -> None:
        at = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(OFFER)
            reply = await _line(reader)
            writer.close()
        except (OSError, TimeoutError) as exc:
            out.refused.append((at, type(exc).__name__))
            return
        if reply.startswith(b"ID "):
            out.by_shard[chr(reply[3])].append(at)
        elif reply == b"ERR draining\n" and again:
            out.redirected.append(at)  # what the agent does: offer again at once
            await one(again=False)
        else:
            out.refused.append((at, reply.decode().strip()))

    tasks = []
    while time.monotonic() < end:
        tasks.append(asyncio.create_task(one()))
        await asyncio.sleep(every)
    await asyncio.gather(*tasks)


async def run(args: argparse.Namespace) -> list[list[str]]:
    port = free_port()
    old = start(port, 1)
    t0 = time.monotonic()
    pairs = [await pair(port) for _ in range(args.pairs)]
    t_paired = time.monotonic() - t0
    begin = time.monotonic()
    end = begin + args.seconds
    out = Offers()
    streams = [asyncio.create_task(stream(w, r, args, end)) for w, r, _ in pairs]
    offering = asyncio.create_task(offers(port, args.offer_every, end, out))
    await asyncio.sleep(1.0)
    new = await asyncio.to_thread(start, port, 2)
    await asyncio.sleep(max(0.0, begin + 2.0 - time.monotonic()))
    sigterm = time.monotonic()
    old.proc.send_signal(signal.SIGTERM)
    draining = await asyncio.to_thread(old.expect, "Relay draining")
    intact = await asyncio.gather(*streams)
    await offering
    ended = time.monotonic()
    for _, _, e_writer in pairs:
        assert isinstance(e_writer, asyncio.StreamWriter)
        e_writer.close()
    drained = await asyncio.to_thread(old.expect, "Relay drained")
    old.proc.wait(30)
    new.proc.send_signal(signal.SIGTERM)
    new.proc.wait(30)
    after = [t for t in out.by_shard["1"] if t > draining]
    return [
        [
            f"{args.pairs}",
            f"{t_paired:.1f}",
            f"{sum(not ok for ok in intact)}",
            f"{len(out.refused)}",
            f"{len(out.redirected)}",
            f"{sum(t > sigterm for t in out.by_shard['1'])} / {len(after)}",
            f"{sum(t > sigterm for t in out.by_shard['2'])}",
            f"{sum(map(len, out.by_shard.values())) + len(out.refused) - len(out.redirected)}",
            f"{(draining - sigterm) * 1e3:.0f}",
            f"{(drained - ended) * 1e3:.0f}",
            f"{old.proc.returncode}",
        ],
        [", ".join(f"{round((t - sigterm) * 1e3)} ms: {why}" for t, why in out.refused)],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--offer-every", type=float, default=0.01)
    args = parser.parse_args()
    raise_nofile(4 * args.pairs + 4096)
    print(f"{COMMAND} --pairs {args.pairs} --seconds {args.seconds}")
    print(f"({machine()})\n")
    row, refused = asyncio.run(run(args))
    header = [
        "pairs streaming",
        "pairing s",
        "sessions cut",
        "offers refused",
        "offers sent on (ERR draining, re-offered at once)",
        "offers to A after SIGTERM / after its listener closed",
        "offers to B after SIGTERM",
        "offers made",
        "SIGTERM -> listener closed ms",
        "last pair ended -> A exits ms",
        "A exit code",
    ]
    print(table(header, [row]))
    if refused[0]:
        print(f"\nrefused offers (time after SIGTERM): {refused[0]}")


if __name__ == "__main__":
    main()
