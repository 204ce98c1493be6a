"""The zvkdiag side of the screen benchmark: relay + customer agent + engineer session.

One call of ``run_zvkdiag`` does for zvkdiag what ``vnc_measure.py`` does for
x11vnc, on a display where ``scenario.py setup`` has already run:

- the relay is a real child process (``python -m zvkdiag relay``);
- the customer is the real customer program as a child process on the Xvfb
  display, ``python -m zvkdiag quicksupport --ui console --lang en``; this
  script reads its ``ID:``/``Password:`` lines and types ``y`` whenever it
  asks ``Allow? [y/n]`` (the session, then the screen view).  Its CPU time is
  "customer CPU", as x11vnc's is for VNC;
- the engineer is ``zvkdiag.connect_async(...)`` in this process; every frame
  from ``s.frames()`` becomes one ``chunks`` and one ``updates`` entry of the
  harness's trace format (``ReceivedFrame.trace_update()``).

As with ``vnc_measure.py``: the first frame must arrive, then 1 s without
frames; the CPU sampler of the harness starts, ``scenario.py run`` plays, and
recording goes on for a 1 s tail.  Afterwards the final picture is checked
pixel for pixel against an mss grab of the customer's screen (cursor
included), twice: the canvas rebuilt from the very frames that were streamed,
and ``s.screenshot()`` (a fresh stream that waits until settled).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import mss
import numpy as np
from _common import PYTHON, start_relay
from PIL import Image

import zvkdiag
from zvkdiag.screen import Canvas, Frame, ReceivedFrame

__all__ = ["ZvkResult", "run_zvkdiag"]

AGENT_START_TIMEOUT: Final = 30.0
FIRST_FRAME_TIMEOUT: Final = 30.0
SETTLE: Final = 1.0  # vnc_measure.py --settle default
SETTLE_MAX: Final = 15.0
TAIL: Final = 1.0  # vnc_measure.py --tail default
PROMPT: Final = "Allow? [y/n]"
_ID = re.compile(r"^ID: ([\d ]+)$")
_PASSWORD = re.compile(r"^Password: (\S+)$")


@dataclass
class ZvkResult:
    """What the trace cannot carry: pixel checks and byte counts beyond the frames."""

    trace: dict[str, Any]
    agent_pid: int
    streamed_exact: bool | None = None  # canvas rebuilt from the streamed frames == screen
    streamed_settled: bool | None = None
    screenshot_exact: bool | None = None  # s.screenshot() == screen
    differing_pixels: int | None = None
    tcp_bytes_received: int | None = None  # engineer socket, scenario + tail
    notes: list[str] = field(default_factory=list)


class ConsoleCustomer:
    """The customer program as a child; answers ``y`` to every question it asks."""

    def __init__(self, relay: str, env: dict[str, str], log: Path) -> None:
        self._data = tempfile.TemporaryDirectory(prefix="zvk-screen-bench-")
        self.proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "zvkdiag",
                "quicksupport",
                "--relay",
                relay,
                "--ui",
                "console",
                "--lang",
                "en",
            ],
            env={**env, "XDG_DATA_HOME": self._data.name},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._log = log.open("w")
        self.session_id = ""
        self.password = ""
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, name="customer-stdout", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None and self.proc.stdin is not None
        for line in self.proc.stdout:
            self._log.write(f"{time.time():.3f} {line}")
            self._log.flush()
            text = line.strip()
            if m := _ID.match(text):
                self.session_id = m[1]
            elif m := _PASSWORD.match(text):
                self.password = m[1]
                self._ready.set()
            elif text.startswith(PROMPT):
                with contextlib.suppress(OSError):
                    self.proc.stdin.write("y\n")
                    self.proc.stdin.flush()

    def wait_ready(self) -> tuple[str, str]:
        if not self._ready.wait(AGENT_START_TIMEOUT):
            raise RuntimeError("the customer program printed no ID/password")
        return self.session_id, self.password

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._thread.join(5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        self._log.close()
        self._data.cleanup()


@contextlib.contextmanager
def customer(relay: str, env: dict[str, str], log: Path) -> Iterator[ConsoleCustomer]:
    agent = ConsoleCustomer(relay, env, log)
    try:
        yield agent
    finally:
        agent.stop()


@dataclass
class Recorder:
    """Frames as they arrive, in the harness's trace shapes."""

    chunks: list[list[float]] = field(default_factory=list)
    updates: list[list[Any]] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    first: asyncio.Event = field(default_factory=asyncio.Event)
    wire_bytes: int = 0

    def add(self, got: ReceivedFrame) -> None:
        self.chunks.append([round(got.received_at, 6), got.wire_bytes])
        update = got.trace_update()
        update[0], update[1] = round(update[0], 6), round(update[1], 6)
        self.updates.append(update)
        self.frames.append(got.frame)
        self.wire_bytes += got.wire_bytes
        self.first.set()


def tcp_bytes_received(relay_port: int) -> int | None:
    """bytes_received of this process's TCP connection to the relay (``ss -tinp``)."""
    out = subprocess.run(
        ["ss", "-tinpH", "dst", f"127.0.0.1:{relay_port}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if f"pid={os.getpid()}," in line and i + 1 < len(lines):
            m = re.search(r"bytes_received:(\d+)", lines[i + 1])
            if m:
                return int(m[1])
    return None


def grab_screen(display: str) -> Image.Image:
    """What the customer sees right now, mouse pointer included (mss's own blend)."""
    with mss.MSS(display=display, with_cursor=True) as sct:
        shot = sct.grab(sct.monitors[0])
        return Image.frombytes("RGB", shot.size, shot.rgb)


def replay(frames: list[Frame]) -> Canvas:
    """The engineer's canvas rebuilt offline from the streamed frames (no cost while streaming)."""
    canvas = Canvas()
    for frame in frames:
        canvas.apply(frame)
    return canvas


def differing(a: Image.Image, b: Image.Image) -> int:
    if a.size != b.size:
        return a.size[0] * a.size[1]
    return int(np.any(np.asarray(a) != np.asarray(b), axis=2).sum())


async def _stream(
    s: zvkdiag.Session,
    rec: Recorder,
    scenario: list[str],
    env: dict[str, str],
    cpu_of: int,
    harness: ModuleType,
) -> dict[str, Any]:
    async def consume() -> None:
        async for got in s.frames(monitor=0):
            rec.add(got)

    task = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(rec.first.wait(), FIRST_FRAME_TIMEOUT)
        settle_until = time.time() + SETTLE_MAX
        while time.time() < settle_until and time.time() - rec.updates[-1][1] < SETTLE:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # as vnc_measure.py: 1 s without a frame
        initial = {"updates": len(rec.updates), "bytes": rec.wire_bytes}
        cpu: list[Any] = []
        stop = threading.Event()
        sampler = threading.Thread(
            target=harness.cpu_sampler, args=(cpu_of, cpu, stop), daemon=True
        )
        sampler.start()
        t_start = time.time()
        proc = await asyncio.create_subprocess_exec(*scenario, env=env)
        rc = await proc.wait()
        await asyncio.sleep(TAIL)
        t_end = time.time()
        stop.set()
        sampler.join()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return {
        "t_start": t_start,
        "t_end": t_end,
        "scenario_rc": rc,
        "initial": initial,
        "cpu": [[round(c[0], 4), c[1], c[2], c[3]] for c in cpu],
    }


async def _session(
    session_id: str,
    password: str,
    relay_address: str,
    display: str,
    scenario: list[str],
    env: dict[str, str],
    agent_pid: int,
    harness: ModuleType,
) -> ZvkResult:
    relay_port = int(relay_address.rsplit(":", 1)[1])
    s = await zvkdiag.connect_async(
        session_id, password, relay=relay_address, engineer="Screen Bench"
    )
    rec = Recorder()
    try:
        tcp_before = tcp_bytes_received(relay_port)
        info = await _stream(s, rec, scenario, env, agent_pid, harness)
        tcp_after = tcp_bytes_received(relay_port)
        trace = {
            "system": "zvkdiag",
            "client": "bench/screen_zvk.py (zvkdiag.connect via relay, s.frames())",
            "encoding": "zvkdiag",
            "fb": [rec.frames[0].width, rec.frames[0].height],
            "client_error": None,
            "clk_tck": os.sysconf("SC_CLK_TCK"),
            "ncpu": os.cpu_count(),
            "chunks": rec.chunks,
            "updates": rec.updates,
            # Not in the harness's format (analyze.py ignores it): when the customer
            # grabbed each update's pixels, for the grab's delay after a scroll step.
            "captured_at": [round(f.captured_at, 6) for f in rec.frames],
            **info,
        }
        result = ZvkResult(trace, agent_pid)
        if tcp_before is not None and tcp_after is not None:
            result.tcp_bytes_received = tcp_after - tcp_before
        screen = grab_screen(display)
        canvas = replay(rec.frames)
        result.streamed_settled = canvas.settled
        result.differing_pixels = differing(canvas.image(), screen)
        result.streamed_exact = result.differing_pixels == 0
        shot = await asyncio.to_thread(s.screenshot, 0)  # the session's own loop
        result.screenshot_exact = differing(shot, grab_screen(display)) == 0
        return result
    finally:
        await asyncio.to_thread(s.close)


def run_zvkdiag(
    rundir: Path,
    env: dict[str, str],
    display: str,
    harness_dir: Path,
    harness: ModuleType,
    script: Path | None = None,
) -> ZvkResult:
    """Relay, customer, engineer: record the scenario; returns the trace and the checks."""
    scenario = [PYTHON, str(script or harness_dir / "scenario.py"), "run", "--log"]
    scenario.append(str(rundir / "events.jsonl"))
    with (
        start_relay() as relay,
        customer(relay.address, env, rundir / "customer.log") as agent,
    ):
        session_id, password = agent.wait_ready()
        return asyncio.run(
            _session(
                session_id,
                password,
                relay.address,
                display,
                scenario,
                env,
                agent.proc.pid,
                harness,
            )
        )
