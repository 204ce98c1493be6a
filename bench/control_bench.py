"""Remote control beside x11vnc: key to changed frame, and typing speed beside xdotool.

Same machine, same run.  zvkdiag: a real relay process, the agent (in this
process, auto-consent), the engineer's ``Session`` through the relay; an xterm
in focus on a 1920x1080 Xvfb, as in the shared harness.  From ``c.key("a")``
(then BackSpace) to the first screen frame with a changed area, on one clock
(``time.time()`` here and in the frame's arrival stamp).  x11vnc: the shared
harness ``rfb_input_latency.py`` (defaults and ``-nonap``), whose RFB client
sends the same KeyEvents and waits for the first FramebufferUpdate with a rect.

Typing: 200 characters with ``type_text`` into ``cat > file`` in the xterm,
until the file holds them, beside ``xdotool type --delay 0`` of the same text.

usage: python bench/control_bench.py [--keys 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import Stats, start_relay

import zvkdiag
from zvkdiag.testing.fakes import AgentThread
from zvkdiag.testing.xvfb import xvfb

HARNESS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "vnc" / "rfb_input_latency.py"
TEXT = ("Grüße aus Köln: 12345 abcdefghij " * 7)[:200]


def _xterm(env: dict[str, str], command: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["xterm", "-geometry", "100x30+100+100", "-title", "ctl", "-e", "sh", "-c", command],
        env=env,
    )
    subprocess.run(
        ["xdotool", "search", "--sync", "--name", "ctl", "windowfocus"],
        env=env,
        capture_output=True,
        timeout=15,
    )
    subprocess.run(["xdotool", "mousemove", "500", "300"], env=env, check=True)
    time.sleep(0.5)
    return proc


class FrameWatch:
    """Receives screen frames on a thread of its own and keeps their arrival times."""

    def __init__(self, session: zvkdiag.Session) -> None:
        self.arrivals: list[float] = []
        self._stop = False
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(session),), daemon=True)
        self._thread.start()

    async def _run(self, session: zvkdiag.Session) -> None:
        async for got in session.frames():
            if got.frame.tiles:
                self.arrivals.append(got.received_at)
            if self._stop:
                return

    def first_after(self, t0: float, timeout: float = 2.0) -> float | None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            later = [t for t in self.arrivals if t > t0]
            if later:
                return later[0] - t0
            time.sleep(0.0005)
        return None


def zvkdiag_latency(relay: str, keys: int) -> Stats:
    with (
        AgentThread(relay=relay) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay, engineer="Bench") as s,
        s.control() as c,
    ):
        watch = FrameWatch(s)
        time.sleep(1.5)
        samples = []
        for i in range(keys):
            for key in ("a", "BackSpace"):
                time.sleep(0.4 + 0.1 * (i % 3))
                t0 = time.time()
                c.key(key)
                got = watch.first_after(t0)
                if got is not None:
                    samples.append(got)
        watch._stop = True
    return Stats(tuple(samples))


def _held(display: str) -> bool:
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        return any(d.query_keymap()) or bool(d.screen().root.query_pointer().mask & 0x1F00)
    finally:
        d.close()


def revocation_times(relay: str, display: str, times: int) -> Stats:
    """From the customer's "Steuerung beenden" to nothing held on the X server."""
    from zvkdiag.consent.model import Scope
    from zvkdiag.control.events import Button, Key, Move

    samples = []
    with (
        AgentThread(relay=relay) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay, engineer="Bench") as s,
    ):
        for _ in range(times):
            c = s.control()
            s.call(c.asend([Move(900, 900), Button(1, True), Key("ShiftLeft", True)]))
            while not _held(display):
                time.sleep(0.001)
            t0 = time.perf_counter()
            a.agent.revoke(Scope.SCREEN_CONTROL)
            while _held(display):
                time.sleep(0.0005)
            samples.append(time.perf_counter() - t0)
            c.release()
    return Stats(tuple(samples))


def x11vnc_latency(keys: int, opts: str) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, str(HARNESS), "--keys", str(keys), f"--x11vnc-opts={opts}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = re.search(r"median ([\d.]+) ms, p90 ([\d.]+) ms", done.stdout)
    if found is None:
        raise RuntimeError(f"x11vnc harness said: {done.stdout}{done.stderr}")
    return float(found.group(1)), float(found.group(2))


def _wait_file(path: Path, size: int, timeout: float = 30.0) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if path.exists() and path.stat().st_size >= size:
            return time.perf_counter() - t0
        time.sleep(0.002)
    raise RuntimeError(f"{path} did not reach {size} bytes")


def typing_rates(relay: str, env: dict[str, str]) -> tuple[float, float, bool, bool]:
    expected = len((TEXT + "\n").encode())
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = Path(tmp) / "ours.txt", Path(tmp) / "xdotool.txt"
        term = _xterm(env, f"stty -icanon; cat > {ours}")
        with (
            AgentThread(relay=relay) as a,
            zvkdiag.connect(a.session_id, a.password, relay=relay, engineer="Bench") as s,
            s.control() as c,
        ):
            t0 = time.perf_counter()
            c.type_text(TEXT + "\n")
            _wait_file(ours, expected)
            ours_s = time.perf_counter() - t0
        term.kill()
        term = _xterm(env, f"stty -icanon; cat > {theirs}")
        t0 = time.perf_counter()
        subprocess.run(["xdotool", "type", "--delay", "0", TEXT + "\n"], env=env, check=True)
        _wait_file(theirs, expected)
        theirs_s = time.perf_counter() - t0
        term.kill()
        exact = ours.read_text() == TEXT + "\n", theirs.read_text() == TEXT + "\n"
    return len(TEXT) / ours_s, len(TEXT) / theirs_s, *exact


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--keys", type=int, default=20)
    a = p.parse_args()
    vnc_default = x11vnc_latency(a.keys, "")
    vnc_nonap = x11vnc_latency(a.keys, "-nonap")
    with xvfb(1920, 1080) as server, start_relay() as relay:
        os.environ["DISPLAY"] = server.display
        env = server.env()
        subprocess.run(["setxkbmap", "de"], env=env, check=True)
        term = _xterm(env, "cat")
        ours = zvkdiag_latency(relay.address, a.keys)
        term.kill()
        ours_cps, xdo_cps, ours_ok, xdo_ok = typing_rates(relay.address, env)
        revoked = revocation_times(relay.address, server.display, 10)
    print(f"key -> first changed frame, {len(ours.samples)} keys")
    print("| | median ms | p90 ms | median ratio to x11vnc -nonap |")
    print("|---|---|---|---|")
    print(f"| x11vnc (defaults) | {vnc_default[0]:.1f} | {vnc_default[1]:.1f} | |")
    print(f"| x11vnc -nonap | {vnc_nonap[0]:.1f} | {vnc_nonap[1]:.1f} | 1.00x |")
    ratio = ours.median_ms / vnc_nonap[0]
    print(f"| zvkdiag c.key() | {ours.median_ms:.1f} | {ours.p90_ms:.1f} | {ratio:.2f}x |")
    print()
    print(f"type_text 200 chars: {ours_cps:.0f} chars/s (exact: {ours_ok}); ", end="")
    print(f"xdotool type --delay 0: {xdo_cps:.0f} chars/s (exact: {xdo_ok}); ", end="")
    print(f"ratio {ours_cps / xdo_cps:.2f}x")
    print(
        f"revocation to nothing held: median {revoked.median_ms:.1f} ms, "
        f"p90 {revoked.p90_ms:.1f} ms, max {max(revoked.samples) * 1e3:.1f} ms "
        f"({len(revoked.samples)} revocations, each with a button and Shift held)"
    )


if __name__ == "__main__":
    main()
