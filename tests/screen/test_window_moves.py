"""Window moves: the pure bookkeeping, and the X server's ConfigureNotify on a real screen."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import numpy as np
import pytest

from zvkdiag.screen.capture import Capturer
from zvkdiag.screen.codec import Encoding
from zvkdiag.screen.damage import DamageWatch
from zvkdiag.screen.frames import decode_frame
from zvkdiag.screen.reassemble import Canvas
from zvkdiag.screen.stream import ScreenStreamer
from zvkdiag.screen.tiles import Rect
from zvkdiag.screen.window_moves import WindowMoves
from zvkdiag.testing.xvfb import XServer


def test_a_window_moved_twice_between_grabs_is_one_move() -> None:
    moves = WindowMoves()
    moves.note(7, Rect(10, 10, 100, 50))  # first seen: where it was before is not known
    assert moves.take() == []
    moves.note(7, Rect(20, 15, 100, 50))
    moves.note(7, Rect(30, 20, 100, 50))
    moves.note(8, Rect(0, 0, 10, 10))
    assert moves.take() == [(Rect(10, 10, 100, 50), Rect(30, 20, 100, 50))]
    assert moves.take() == []


def test_a_resize_is_no_move_and_a_destroyed_window_is_forgotten() -> None:
    moves = WindowMoves()
    moves.note(7, Rect(10, 10, 100, 50))
    moves.note(7, Rect(20, 10, 120, 50))
    assert moves.take() == []
    moves.note(7, None)
    moves.note(7, Rect(40, 10, 120, 50))  # a new window with the same id
    assert moves.take() == []


def test_the_biggest_window_comes_first() -> None:
    moves = WindowMoves()
    for window, size in ((1, 10), (2, 300), (3, 50)):
        moves.note(window, Rect(0, 0, size, size))
        moves.note(window, Rect(5, 5, size, size))
    assert [new.w for _, new in moves.take()] == [300, 50, 10]


def tk_window(screen: XServer, x: int, y: int) -> subprocess.Popen[bytes]:
    """A 320×200 Tk window with some text at (x, y) (no WM: placed as asked)."""
    code = (
        "import tkinter as t; r = t.Tk(); r.overrideredirect(True); r.title('zvk-moving');"
        f"r.geometry('320x200+{x}+{y}'); r.configure(bg='#ffffff');"
        "[t.Label(r, text=f'line {i} of a moving window', bg='#ffffff').pack() for i in range(8)];"
        "r.mainloop()"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=screen.env())


def move(screen: XServer, window: str, x: int, y: int) -> None:
    subprocess.run(["xdotool", "windowmove", window, str(x), str(y)], env=screen.env(), check=True)


def tk_id(screen: XServer) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", "zvk-moving"],
            env=screen.env(),
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError("the Tk window did not show")


@pytest.mark.x11
def test_the_x_server_reports_a_moved_window(screen: XServer) -> None:
    watch = DamageWatch.open(screen.display)
    assert watch is not None
    proc = tk_window(screen, 100, 100)
    try:
        window = tk_id(screen)
        move(screen, window, 150, 130)
        move(screen, window, 170, 140)
        deadline = time.monotonic() + 5
        found: list[tuple[Rect, Rect]] = []
        while time.monotonic() < deadline and not found:
            watch.changed()
            found = watch.take_moves()
            time.sleep(0.02)
        assert found and found[0][1] == Rect(170, 140, 320, 200)
        assert found[0][0] in (Rect(100, 100, 320, 200), Rect(150, 130, 320, 200))
    finally:
        proc.kill()
        proc.wait()
        watch.close()


@pytest.mark.x11
def test_a_dragged_window_streams_as_copies_and_stays_exact(screen: XServer) -> None:
    proc = tk_window(screen, 100, 100)

    async def main() -> tuple[Canvas, list[set[Encoding]]]:
        window = tk_id(screen)
        streamer = ScreenStreamer(display=screen.display)
        frames = streamer.frames()
        canvas = Canvas()
        kinds: list[set[Encoding]] = []

        pending = asyncio.ensure_future(anext(frames))  # never cancelled: that would end frames()

        async def take(seconds: float) -> None:
            nonlocal pending
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0:
                done, _ = await asyncio.wait({pending}, timeout=left)
                if not done:
                    return
                frame = decode_frame(pending.result())
                pending = asyncio.ensure_future(anext(frames))
                canvas.apply(frame)
                streamer.on_ack(frame.seq)
                kinds.append({t.encoding for t in frame.tiles})

        try:
            await take(1.5)  # the first frame and the window settling
            for step in range(1, 9):
                move(screen, window, 100 + 17 * step, 100 + 9 * step)
                await take(0.1)
            await take(1.0)
        finally:
            streamer.stop()
            await asyncio.wait({pending}, timeout=5)
            await frames.aclose()
        return canvas, kinds

    try:
        canvas, kinds = asyncio.run(main())
        with Capturer(display=screen.display) as capturer:
            shown = capturer.grab()
    finally:
        proc.kill()
        proc.wait()
    assert sum(Encoding.COPY in k for k in kinds) >= 4
    assert np.array_equal(canvas.pixels()[..., :3], shown[..., :3])
