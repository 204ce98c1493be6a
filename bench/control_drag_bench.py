"""Dragging a window by remote control: updates the engineer sees, zvkdiag beside x11vnc.

Same machine, same run, the same screen each time: a fresh 1920x1080 Xvfb with
one 560x400 window (text, coloured boxes, a noisy "photo" area) that follows
the left button like a title bar being dragged (no window manager here).  The
drag: press at the window, 125 moves along a fixed path at 25 moves/s, release.

- zvkdiag: the engineer's ``Control`` sends each move through the real relay
  process and SSH; the engineer's ``frames()`` counts screen updates;
- x11vnc: the shared harness's RFB client sends the same PointerEvents and
  counts FramebufferUpdates.  x11vnc's default "wireframe" mode holds a window
  drag back and shows only an outline until the button is released (the
  window itself does not move meanwhile: 0.02 MB in a trial run), so the
  comparison is against ``-nowireframe`` (and ``-nowireframe -nonap``);
  the default is printed beside them.

Reported: updates per second during the drag, bytes, and the ratio.

usage: python bench/control_drag_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import start_relay

import zvkdiag
from zvkdiag.control.events import Button, Move
from zvkdiag.testing.fakes import AgentThread
from zvkdiag.testing.xvfb import XServer, xvfb

VNC = Path(__file__).resolve().parents[2] / "shared" / "bench" / "vnc"
sys.path.insert(0, str(VNC))
import vnc_measure  # noqa: E402

MOVES = 125
RATE = 25.0
GRAB = (320, 220)  # a point inside the window at its start place (200, 200)

WINDOW = """
import random, tkinter as tk
root = tk.Tk(); root.withdraw()
w = tk.Toplevel(root); w.overrideredirect(True); w.geometry("560x400+200+200")
c = tk.Canvas(w, width=560, height=400, bg="white", highlightthickness=0); c.pack()
for i in range(14):
    c.create_text(20, 20 + 18 * i, anchor="w", font=("DejaVu Sans", 11),
                  text=f"Zeile {i}: Beitragsnachweis Januar, Betrag {1234 + 17 * i},00 EUR")
for i, colour in enumerate(("#c0392b", "#2980b9", "#27ae60", "#f39c12")):
    c.create_rectangle(20 + 60 * i, 290, 70 + 60 * i, 380, fill=colour, outline="")
photo = tk.PhotoImage(width=200, height=130)
rnd = random.Random(7)
def px(x): return f"#{rnd.randrange(256):02x}{rnd.randrange(256):02x}{(x * 2) % 256:02x}"
photo.put(" ".join("{" + " ".join(px(x) for x in range(200)) + "}" for _ in range(130)))
c.create_image(340, 260, image=photo, anchor="nw")
start = [0, 0]
def press(e): start[:] = [e.x_root - w.winfo_x(), e.y_root - w.winfo_y()]
def drag(e): w.geometry(f"+{e.x_root - start[0]}+{e.y_root - start[1]}")
c.bind("<ButtonPress-1>", press); c.bind("<B1-Motion>", drag)
root.after(300, lambda: print("shown", flush=True))
root.mainloop()
"""


def path() -> list[tuple[int, int]]:
    """125 points: a wide loop across the screen and back, the same for both."""
    gx, gy = GRAB
    return [
        (
            gx + round(450 * (1 - math.cos(2 * math.pi * i / MOVES))),
            gy + round(125 * (1 - math.cos(4 * math.pi * i / MOVES))),
        )
        for i in range(1, MOVES + 1)
    ]


@contextmanager
def scene() -> Iterator[XServer]:
    with xvfb(1920, 1080) as server:
        proc = subprocess.Popen(
            [sys.executable, "-c", WINDOW], env=server.env(), stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "shown"
            time.sleep(0.5)
            os.environ["DISPLAY"] = server.display  # the in-process agent's screen
            yield server
        finally:
            proc.kill()
            proc.wait()


def paced(send: Callable[[int, int], None]) -> tuple[float, float]:
    """Call ``send`` for each point on absolute deadlines; returns (start, end)."""
    t0 = time.time()
    for i, (x, y) in enumerate(path()):
        delay = t0 + (i + 1) / RATE - time.time()
        if delay > 0:
            time.sleep(delay)
        send(x, y)
    return t0, time.time()


def rate(stamps: list[tuple[float, int]], t0: float, t1: float) -> tuple[float, int]:
    inside = [(t, n) for t, n in stamps if t0 <= t <= t1 + 0.25]
    return len(inside) / (t1 + 0.25 - t0), sum(n for _, n in inside)


def zvkdiag_drag(relay: str) -> tuple[float, int]:
    with (
        scene(),
        AgentThread(relay=relay) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay, engineer="Bench") as s,
        s.control() as c,
    ):
        stamps: list[tuple[float, int]] = []
        stop = threading.Event()

        async def watch() -> None:
            async for got in s.frames():
                if got.frame.tiles:
                    stamps.append((got.received_at, got.wire_bytes))
                if stop.is_set():
                    return

        watcher = threading.Thread(target=asyncio.run, args=(watch(),), daemon=True)
        watcher.start()
        time.sleep(1.5)
        s.call(c.asend([Move(*GRAB), Button(1, True)]))
        t0, t1 = paced(lambda x, y: s.call(c.asend([Move(x, y)])))
        s.call(c.asend([Button(1, False)]))
        time.sleep(0.5)
        stop.set()
        return rate(stamps, t0, t1)


def x11vnc_drag(opts: str, port: int = 5991) -> tuple[float, int]:
    with scene() as server:
        vnc = subprocess.Popen(
            ["x11vnc", "-display", server.display, "-rfbport", str(port), "-localhost",
             "-forever", "-shared", "-nopw", "-q", *opts.split()],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            assert vnc.stdout is not None
            deadline = time.time() + 15
            while time.time() < deadline and not vnc.stdout.readline().startswith("PORT="):
                pass
            client = vnc_measure.Client("127.0.0.1", port, "zrle")
            threading.Thread(target=client.loop, daemon=True).start()
            client.first_update.wait(10)
            time.sleep(1.5)

            def pointer(mask: int, x: int, y: int) -> None:
                client.sock.sendall(struct.pack(">BBHH", 5, mask, x, y))

            pointer(0, *GRAB)
            pointer(1, *GRAB)
            t0, t1 = paced(lambda x, y: pointer(1, x, y))
            pointer(0, *path()[-1])
            time.sleep(0.5)
            client.stop = True
            stamps = [
                (t_done, nbytes)
                for t_hdr, t_done, nbytes, rects in client.updates
                if any(r[4] >= 0 and r[2] * r[3] > 0 for r in rects)
            ]
            return rate(stamps, t0, t1)
        finally:
            vnc.terminate()
            vnc.wait(5)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    peers = ("", "-nowireframe", "-nowireframe -nonap")
    results: dict[str, list[tuple[float, int]]] = {f"x11vnc {o}".strip(): [] for o in peers}
    results["zvkdiag"] = []
    with start_relay() as relay:
        for _ in range(a.runs):
            for opts in peers:
                results[f"x11vnc {opts}".strip()].append(x11vnc_drag(opts))
            results["zvkdiag"].append(zvkdiag_drag(relay.address))
    base = statistics.median(r for r, _ in results["x11vnc -nowireframe"])
    print(f"dragging a window, {MOVES} moves at {RATE:g}/s, median of {a.runs} runs")
    print("| | updates/s | MB during the drag | ratio to x11vnc -nowireframe |")
    print("|---|---|---|---|")
    for name, runs in results.items():
        ups = statistics.median(r for r, _ in runs)
        mb = statistics.median(b for _, b in runs) / 1e6
        print(f"| {name} | {ups:.1f} | {mb:.2f} | {ups / base:.2f}x |")
    print("runs:", {k: [round(r, 1) for r, _ in v] for k, v in results.items()})


if __name__ == "__main__":
    main()
