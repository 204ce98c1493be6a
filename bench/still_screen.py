"""A watched screen that does not change: the customer's CPU, zvkdiag's streamer against x11vnc.

A support session spends much of its time on a still screen: the engineer
reads, the customer listens.  Each run opens a fresh Xvfb with scenario A's
windows (the shared harness's ``scenario.py setup``), then, one after the
other on that same screen:

- x11vnc with the harness's ZRLE client (``vnc_measure.py``) connected, its
  process's CPU read from ``/proc/PID/task/*/schedstat`` (nanoseconds);
- for each tree given, zvkdiag's ``ScreenStreamer`` in a child process (every
  frame acknowledged at once, no SSH), its own CPU read the same way, with the
  number of grabs and the full-grab period at the end.

Only the last ``--measure`` seconds of ``--seconds`` count: the start (first
frame, the safety net's first full grabs) is left out.  Trees alternate run by
run; the figures are medians over ``--runs``.

Run: ``.venv/bin/python bench/still_screen.py [--trees /work/main .] [--runs 2]``
(Xvfb, x11vnc and the harness's tools, loopback only).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from _common import PYTHON, free_port, machine, table
from screen_bench import harness_dir, loadavg, scenario_screen, stop

START_TIMEOUT: Final = 20.0


def process_cpu(pid: int) -> float:
    """CPU seconds of every thread of ``pid`` so far (schedstat's nanoseconds)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):  # a thread that just ended
            total += int(stat.read_text().split()[0])
    return total / 1e9


def child(seconds: float, measure: float) -> None:
    """In the tree's own process: stream the screen, print this process's CPU as JSON."""
    import asyncio

    from zvkdiag.screen.frames import decode_frame
    from zvkdiag.screen.stream import ScreenStreamer

    async def watch() -> dict[str, Any]:
        streamer = ScreenStreamer()
        frames = streamer.frames()
        streamer.on_ack(decode_frame(await anext(frames)).seq)
        done = time.monotonic() + seconds
        start = done - measure
        c0 = t0 = 0.0
        grabs0: int | None = None
        nxt = asyncio.ensure_future(anext(frames))  # never cancelled: that would end the stream
        while (now := time.monotonic()) < done:
            if grabs0 is None and now >= start:
                c0, t0, grabs0 = process_cpu(os.getpid()), now, streamer.stats.captures
            wait = start - now if start > now else done - now
            finished, _ = await asyncio.wait({nxt}, timeout=min(1.0, max(wait, 0.001)))
            if finished:
                streamer.on_ack(decode_frame(nxt.result()).seq)
                nxt = asyncio.ensure_future(anext(frames))
        c1, t1 = process_cpu(os.getpid()), time.monotonic()
        net = getattr(streamer, "full_poll", None)  # a tree from before the widening net
        return {
            "cpu_pct": 100 * (c1 - c0) / (t1 - t0),
            "grabs": streamer.stats.captures - (grabs0 or 0),
            "frames": streamer.stats.frames,
            "full_poll_period": None if net is None else net.period,
        }

    print(json.dumps(asyncio.run(watch())), flush=True)
    os._exit(0)  # the capture worker may still sit in its select()


def run_x11vnc(
    display: str, env: dict[str, str], harness: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """x11vnc (ZRLE, as the harness runs it) watched by ``vnc_measure.py`` for ``--seconds``."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        stdout = Path(tmp) / "x11vnc.stdout"
        with stdout.open("w") as out:
            server = subprocess.Popen(
                ["x11vnc", "-display", display, "-rfbport", str(port), "-localhost",
                 "-forever", "-shared", "-nopw", "-o", str(Path(tmp) / "x11vnc.log")],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        client = None
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while f"PORT={port}" not in stdout.read_text(errors="replace"):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("x11vnc did not start")
                time.sleep(0.1)
            client = subprocess.Popen(
                [PYTHON, str(harness / "vnc_measure.py"), "--port", str(port),
                 "--encoding", "zrle", "--duration", str(args.seconds + 2),
                 "--out", str(Path(tmp) / "trace.json")],
                env=env, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(args.seconds - args.measure)
            c0, t0 = process_cpu(server.pid), time.monotonic()
            time.sleep(args.measure)
            c1, t1 = process_cpu(server.pid), time.monotonic()
            return {"cpu_pct": 100 * (c1 - c0) / (t1 - t0)}
        finally:
            if client is not None:
                stop(client)
            stop(server)


def run_tree(tree: Path, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    # The tree first, then this folder: not the current folder's zvkdiag (``-c`` would).
    code = f"import sys; sys.path[:0] = [{str(tree.resolve())!r}, {str(Path(__file__).parent)!r}]; "
    code += "import still_screen as m; m.child(float(sys.argv[1]), float(sys.argv[2]))"
    done = subprocess.run(
        [PYTHON, "-c", code, str(args.seconds), str(args.measure)],
        env=env, capture_output=True, text=True, check=True, timeout=args.seconds + 60,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trees", nargs="+", type=Path, default=[Path(__file__).parents[1]])
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--seconds", type=float, default=100.0, help="each side watches this long")
    p.add_argument("--measure", type=float, default=60.0, help="the last seconds that count")
    args = p.parse_args()
    if not 0 < args.measure < args.seconds:
        p.error("--measure must be positive and shorter than --seconds")
    harness = harness_dir()
    print(machine(), f"load average {loadavg()}", flush=True)
    results: dict[str, list[dict[str, Any]]] = {"x11vnc ZRLE": []}
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            rundir = Path(tmp)
            assets = rundir / "assets"
            assets.mkdir()
            with scenario_screen(rundir, assets, harness) as (display, env):
                x = run_x11vnc(display, env, harness, args)
                results["x11vnc ZRLE"].append(x)
                print(f"run {run + 1}: x11vnc ZRLE {x['cpu_pct']:.3f} %", flush=True)
                trees = args.trees if run % 2 == 0 else list(reversed(args.trees))
                for tree in trees:
                    z = run_tree(tree, env, args)
                    results.setdefault(f"zvkdiag {tree}", []).append(z)
                    print(f"run {run + 1}: zvkdiag {tree}: {json.dumps(z)}", flush=True)
    peer = statistics.median(r["cpu_pct"] for r in results["x11vnc ZRLE"])
    rows = []
    for side, runs in results.items():
        cpu = statistics.median(r["cpu_pct"] for r in runs)
        grabs = statistics.median(r.get("grabs", 0) for r in runs) if "grabs" in runs[0] else None
        period = runs[-1].get("full_poll_period")
        rows.append([
            side,
            f"{cpu:.3f}",
            f"{cpu / peer:.2f}×" if peer else "-",
            "-" if grabs is None else f"{grabs:.0f}",
            "-" if period is None else f"{period:g} s",
        ])  # fmt: skip
    span = f"the last {args.measure:g} of {args.seconds:g} s, medians of {args.runs}"
    print(f"\nStill screen, {span}:")
    header = ["side", "customer CPU % of a core", "÷ x11vnc", "grabs", "full-grab period"]
    print(table(header, rows))
    print(f"load average at the end: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
