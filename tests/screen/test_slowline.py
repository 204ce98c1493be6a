"""Typing on a shaped 1 Mbit/s, 120 ms line: the screen stream adapts instead of queuing.

Real parts: two network namespaces joined by a veth pair with ``tbf`` on
both ends and the delay forwarder (``zvkdiag.testing.shaping``), the relay
as its own process, the agent and the engineer's session (each in its own
namespace), Xvfb with a Tk window: a text field that is typed into through
remote control while a photo-like picture beside it keeps moving, so big
JPEG updates compete with the typed letters.

Asserted on the stream's own accounting (``LineAdapter``), never on clocks:
the line was measured within what the shaping allows, the JPEG quality was
lowered, no frame left with more unacknowledged bytes ahead of it than the
budget computed from the measured line, and small tiles went ahead of big
ones.  The typed text arriving proves the way back (input) works too.
"""

from __future__ import annotations

import ast
import itertools
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from zvkdiag.screen.adapt import QUALITIES, FrameRecord
from zvkdiag.testing.procs import end
from zvkdiag.testing.shaping import SHAPES, ShapedLink, can_make_namespaces
from zvkdiag.testing.slowline import FrameWatch, slow_session, streamers
from zvkdiag.testing.xvfb import xvfb

pytestmark = [
    pytest.mark.x11,
    pytest.mark.skipif(
        not can_make_namespaces() or not shutil.which("Xvfb"),
        reason="needs root, iproute2, tc and Xvfb",
    ),
]

TEXT = "zvkdiag auf einer langsamen Leitung"
TK_TYPING = """
import sys, tkinter as tk
import numpy as np
root = tk.Tk()
root.geometry("800x600+0+0")
text = tk.Text(root, width=40, height=4, font=("DejaVu Sans Mono", 14))
text.place(x=10, y=10)
canvas = tk.Canvas(root, width=780, height=420, highlightthickness=0, bg="#dde")
canvas.place(x=10, y=160)
yy, xx = np.mgrid[0:260, 0:500]
rgb = np.stack([xx * 255 // 500, yy * 255 // 260, (xx + yy) % 256], -1)
rgb = np.clip(rgb + np.random.default_rng(3).integers(-60, 60, rgb.shape), 0, 255)
photo = tk.PhotoImage(data=b"P6 500 260 255 " + rgb.astype(np.uint8).tobytes(), format="ppm")
item = canvas.create_image(0, 0, image=photo, anchor="nw")
step = [0]
def move():
    step[0] += 1
    canvas.coords(item, (step[0] * 9) % 280, (step[0] * 5) % 160)
    root.after(50, move)
def command(line):
    if line.strip() == "dump":
        print(repr(text.get("1.0", "end-1c")), flush=True)
def poll():
    import select
    if select.select([sys.stdin], [], [], 0)[0]:
        command(sys.stdin.readline())
    root.after(50, poll)
root.after(100, lambda: (text.focus_force(), print("shown", flush=True)))
root.after(200, move)
root.after(50, poll)
root.mainloop()
"""


@pytest.fixture
def typing_window() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    with xvfb(800, 600) as server:
        proc = subprocess.Popen(
            [sys.executable, "-c", TK_TYPING],
            env=server.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "shown"
            yield server.display, proc
        finally:
            end(proc)


def _typed(proc: subprocess.Popen[str]) -> str:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("dump\n")
    proc.stdin.flush()
    return str(ast.literal_eval(proc.stdout.readline()))  # the repr() the window printed


def _wait_typed(proc: subprocess.Popen[str], want: str, limit: float = 30.0) -> str:
    deadline = time.monotonic() + limit
    while (got := _typed(proc)) != want and time.monotonic() < deadline:
        time.sleep(0.2)
    return got


def test_typing_on_a_1mbit_line_adapts_and_keeps_the_backlog_bounded(
    typing_window: tuple[str, subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    display, window = typing_window
    monkeypatch.setenv("DISPLAY", display)
    shape = SHAPES["1mbit-120ms"]
    with ShapedLink(shape) as link, slow_session(link) as slow:
        watch = FrameWatch(slow.session)
        with slow.session.control() as c:
            for ch in TEXT:
                c.type_text(ch)
                time.sleep(0.15)
            typed = _wait_typed(window, TEXT)
        (streamer,) = streamers(slow.agent)
        adapt = streamer.adapt
        line = adapt.estimate()
        records = list(adapt.records)
        changes = list(adapt.quality_changes)
        watch.stop()
    assert typed == TEXT
    assert len(watch.frames) > 10
    # measured within what the shaping allows: never faster than tbf, never quicker than the delay
    assert line.rate is not None and line.rate <= 2 * shape.rate_bytes
    assert line.rtt is not None and line.rtt >= shape.rtt / 2
    # the moving picture made frames too big for the line: the JPEG quality went down
    assert changes and min(q for _, q in changes) < QUALITIES[0]
    measured = [r for r in records if r.budget is not None]
    assert len(measured) > 10
    for before, record in itertools.pairwise(records):
        if record.budget is not None:
            assert _ahead_of_own_capture(before, record) < record.budget or record.backlog == 0
    # small tiles (the typed letters, the picture's flat edges) left ahead of the JPEG ones
    assert any(r.continued for r in measured)


def _ahead_of_own_capture(before: FrameRecord, record: FrameRecord) -> int:
    """Unacknowledged bytes ahead of the frame's capture (a split's first part is its own)."""
    return record.backlog - before.size if record.continued else record.backlog
