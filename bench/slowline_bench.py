"""Typing on a slow line, beside x11vnc over the very same shaped link.

Two network namespaces joined by a veth pair, ``tbf`` on both ends for the
rate and a user-space delay forwarder for the round trip
(``zvkdiag.testing.shaping``), in two shapes: 4 Mbit/s with 60 ms and
1 Mbit/s with 120 ms.  The customer's side (zvkdiag's agent, or x11vnc) sits
in one namespace, the engineer's side (relay and ``Session``, or the shared
harness's RFB client ``vnc_measure.Client``) in the other; one Xvfb with the
shared scenario's windows (``scenario.py setup``) serves both.

Per shape and product, two phases of keypresses ('a', then BackSpace) into
the xterm "vb-type": ``quiet`` (nothing else moves) and ``busy`` (the
560x400 "vb-image" window is dragged 25 times a second meanwhile, so big
updates compete with the typed letter).  Measured on one clock:

- key latency: from sending the key to the first frame/update that touches
  the xterm's rectangle (zvkdiag: ``c.key``; x11vnc: an RFB KeyEvent);
- frame age: how old what the engineer sees is when it is shown: zvkdiag
  from the capture stamp to the frame applied; x11vnc (no capture stamps)
  from the update request it answers to its last byte.

usage: python bench/slowline_bench.py [--keys 12] [--shapes 4mbit-60ms,1mbit-120ms]
                                      [--vnc-encoding tightjpeg]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import Stats

from zvkdiag.testing.shaping import SHAPES, LineShape, ShapedLink, entered
from zvkdiag.testing.slowline import FrameWatch, Seen, slow_session, streamers, touches
from zvkdiag.testing.xvfb import xvfb

VNC_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench" / "vnc"
sys.path.insert(0, str(VNC_DIR))
import vnc_measure  # type: ignore[import-not-found]  # noqa: E402

VNC_PORT = 5981  # inside the customer's namespace: no clash with the shared harness
XK = {"a": 0x61, "BackSpace": 0xFF08}
Rect = tuple[int, int, int, int]


@dataclass
class Result:
    keys: dict[str, list[float]] = field(default_factory=lambda: {"quiet": [], "busy": []})
    ages: list[float] = field(default_factory=list)
    lost: int = 0
    notes: str = ""


def _geometry(env: dict[str, str], name: str) -> tuple[str, Rect]:
    wid = subprocess.run(
        ["xdotool", "search", "--name", f"^{name}$"], env=env, capture_output=True, text=True
    ).stdout.split()[0]
    out = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", wid], env=env, capture_output=True, text=True
    ).stdout
    g = dict(line.split("=") for line in out.split())
    return wid, (int(g["X"]), int(g["Y"]), int(g["WIDTH"]), int(g["HEIGHT"]))


@contextmanager
def dragging(env: dict[str, str], wid: str) -> Iterator[None]:
    """Move the image window 25 times a second along a fixed path until the block ends."""
    stop = threading.Event()

    def run() -> None:
        i = 0
        while not stop.wait(0.04):
            i += 1
            x = 60 + 6 * (i % 150)
            y = 620 + round(80 * math.sin(2 * math.pi * i / 62.5))
            subprocess.run(["xdotool", "windowmove", wid, str(x), str(y)], env=env)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _keys(
    send: Callable[[str], None],
    first_after: Callable[[float], float | None],
    n: int,
    out: list[float],
) -> int:
    """Press 'a' and BackSpace ``n`` times each; returns how many showed no change."""
    lost, rng = 0, random.Random(14)
    for _ in range(n):
        for key in ("a", "BackSpace"):
            time.sleep(rng.uniform(0.45, 0.75))
            t0 = time.time()
            send(key)
            got = first_after(t0)
            if got is None:
                lost += 1
            else:
                out.append(got)
    return lost


def _settle(arrivals: Callable[[], list[float]], quiet: float = 1.0, limit: float = 40.0) -> None:
    """Wait for the first picture and then ``quiet`` seconds without a frame."""
    t0 = time.time()
    while time.time() - t0 < limit:
        seen = arrivals()
        if seen and time.time() - seen[-1] >= quiet:
            return
        time.sleep(0.05)


# -- zvkdiag ----------------------------------------------------------------------------


def run_zvkdiag(link: ShapedLink, env: dict[str, str], keys: int) -> Result:
    result = Result()
    _, typing_rect = _geometry(env, "vb-type")
    image, _ = _geometry(env, "vb-image")
    with slow_session(link, engineer="Bench") as slow, slow.session.control() as c:
        watch = FrameWatch(slow.session)
        echoes: list[tuple[float, Seen]] = []

        def first_after(t0: float) -> float | None:
            shown = watch.first_touching(typing_rect, t0)
            if shown is None:
                return None
            echoes.append((t0, shown))
            return shown.applied_at - t0

        _settle(watch.arrivals)
        start = len(watch.frames)
        result.lost += _keys(c.key, first_after, keys, result.keys["quiet"])
        with dragging(env, image):
            result.lost += _keys(c.key, first_after, keys, result.keys["busy"])
        result.ages = [f.applied_at - f.captured_at for f in watch.frames[start:]]
        (streamer,) = streamers(slow.agent)
        adapt = streamer.adapt
        line = adapt.estimate()
        qualities = sorted({q for _, q in adapt.quality_changes} | {adapt.quality})
        records = {r.seq: r for r in adapt.records}
        busy = echoes[len(result.keys["quiet"]) :]
        echo_records = [records[e.seq] for _, e in busy if e.seq in records]
        expected = [r.expected_age for r in echo_records]
        size = _median([r.size for r in echo_records])
        ahead = _median([r.backlog for r in echo_records])
        result.notes = (
            f"measured {8 * (line.rate or 0) / 1e3:.0f} kbit/s, rtt {1e3 * (line.rtt or 0):.0f} ms;"
            f" JPEG qualities used {qualities}; {streamer.stats.frames} frames,"
            f" {streamer.stats.bytes / 1e3:.0f} kB; busy echoes: key to capture median"
            f" {_ms([e.captured_at - t0 for t0, e in busy])}, capture to shown"
            f" {_ms([e.applied_at - e.captured_at for _, e in busy])}, the adapter expected"
            f" {_ms([x for x in expected if x is not None])}; echo frames: median"
            f" {size} B with {ahead} B ahead, {sum(r.continued for r in echo_records)} of"
            f" {len(echo_records)} behind"
            " their own capture's small tiles"
        )
        watch.stop()
    return result


# -- x11vnc -----------------------------------------------------------------------------


class TimedClient(vnc_measure.Client):  # type: ignore[misc]
    """The harness's RFB client, also noting when each update request left."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.requests: list[float] = []
        super().__init__(*args, **kwargs)

    def request(self, incremental: bool = True) -> None:
        self.requests.append(time.time())
        super().request(incremental)


def run_x11vnc(link: ShapedLink, env: dict[str, str], keys: int, encoding: str) -> Result:
    result = Result()
    _, typing_rect = _geometry(env, "vb-type")
    image, _ = _geometry(env, "vb-image")
    command = ["x11vnc", "-display", env["DISPLAY"], "-rfbport", str(VNC_PORT)]
    command += ["-forever", "-shared", "-nopw", "-nonap", "-q"]
    vnc = subprocess.Popen(
        [*link.prefix(link.customer), *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert vnc.stdout is not None
        deadline = time.time() + 15
        while time.time() < deadline and not vnc.stdout.readline().startswith("PORT="):
            pass
        # keep reading what it prints, or it blocks on a full pipe
        threading.Thread(target=vnc.stdout.read, daemon=True).start()
        way_in = link.forward(("127.0.0.1", 0), (link.customer_ip, VNC_PORT))
        with entered(link.engineer):
            client = TimedClient(*way_in, encoding)
        threading.Thread(target=client.loop, daemon=True).start()

        def updates() -> list[Any]:
            return list(client.updates)

        def first_after(t0: float, timeout: float = 5.0) -> float | None:
            while time.time() - t0 < timeout:
                for _, t_done, _, rects in updates():
                    if t_done > t0 and any(
                        r[4] >= 0 and touches(tuple(r[:4]), typing_rect) for r in rects
                    ):
                        return float(t_done - t0)
                time.sleep(0.001)
            return None

        def send(key: str) -> None:
            for down in (1, 0):
                client.sock.sendall(struct.pack(">BBxxI", 4, down, XK[key]))

        client.first_update.wait(30)
        _settle(lambda: [u[1] for u in updates()])
        start = len(updates())
        result.lost += _keys(send, first_after, keys, result.keys["quiet"])
        with dragging(env, image):
            result.lost += _keys(send, first_after, keys, result.keys["busy"])
        done = updates()[start:]
        asked = client.requests
        for _, t_done, _, _ in done:
            before = [t for t in asked if t < t_done]
            if before:
                result.ages.append(t_done - before[-1])
        client.stop = True
        result.notes = f"encoding {encoding}, x11vnc -nonap"
    finally:
        vnc.terminate()
        try:
            vnc.wait(10)
        except subprocess.TimeoutExpired:
            vnc.kill()
            vnc.wait()
    return result


# -- report -----------------------------------------------------------------------------


def _median(values: list[int]) -> int:
    return sorted(values)[len(values) // 2] if values else 0


def _ms(samples: list[float]) -> str:
    return f"{Stats(tuple(samples)).median_ms:.0f} ms" if samples else "-"


def _row(name: str, r: Result, peer: Result | None) -> str:
    cells = [name]
    for phase in ("quiet", "busy"):
        s = Stats(tuple(r.keys[phase]))
        ratio = ""
        if peer is not None and peer.keys[phase]:
            ratio = f" ({s.median_ms / Stats(tuple(peer.keys[phase])).median_ms:.2f}x)"
        cells += [f"{s.median_ms:.0f}{ratio}", f"{s.p90_ms:.0f}"]
    ages = Stats(tuple(r.ages))
    cells += [f"{ages.median_ms:.0f}", f"{ages.p90_ms:.0f}", f"{max(r.ages) * 1e3:.0f}"]
    cells.append(str(r.lost))
    return "| " + " | ".join(cells) + " |"


def report(shape: LineShape, ours: Result, theirs: Result | None) -> None:
    print(f"\n{shape.name}: {shape.rate_kbit} kbit/s, {shape.rtt * 1e3:.0f} ms round trip")
    print(
        "| | key quiet median ms (ratio) | p90 | key busy median ms (ratio) | p90 |"
        " frame age median ms | p90 | max | keys without echo |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(_row("zvkdiag", ours, theirs))
    if theirs is not None:
        print(_row("x11vnc", theirs, None))
    print(f"zvkdiag: {ours.notes}")
    if theirs is not None:
        print(f"x11vnc: {theirs.notes}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--keys", type=int, default=12, help="'a'+BackSpace pairs per phase")
    p.add_argument("--shapes", default=",".join(SHAPES))
    p.add_argument("--vnc-encoding", default="tightjpeg", choices=sorted(vnc_measure.PRESETS))
    p.add_argument("--no-vnc", action="store_true")
    a = p.parse_args()
    with xvfb(1920, 1080) as server, tempfile.TemporaryDirectory() as work:
        env = server.env()
        os.environ["DISPLAY"] = server.display
        scenario = [sys.executable, str(VNC_DIR / "scenario.py")]
        subprocess.run([*scenario, "setup", "--workdir", work], env=env, check=True)
        try:
            for name in a.shapes.split(","):
                shape = SHAPES[name]
                with ShapedLink(shape) as link:
                    ours = run_zvkdiag(link, env, a.keys)
                with ShapedLink(shape) as link:
                    theirs = None if a.no_vnc else run_x11vnc(link, env, a.keys, a.vnc_encoding)
                report(shape, ours, theirs)
        finally:
            subprocess.run([*scenario, "teardown", "--workdir", work], env=env)


if __name__ == "__main__":
    main()
