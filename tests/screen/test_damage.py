"""X DAMAGE on a real X screen: drawing is seen, a still screen and a still pointer are quiet."""

from __future__ import annotations

import asyncio
import contextlib
import select
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest

from zvkdiag.screen import stream
from zvkdiag.screen.capture import Capturer
from zvkdiag.screen.damage import DamageWatch
from zvkdiag.screen.encoder import FrameEncoder
from zvkdiag.screen.frames import Control, ControlKind, Frame, decode_frame, encode_control
from zvkdiag.screen.reassemble import Canvas
from zvkdiag.screen.stream import ScreenStreamer
from zvkdiag.screen.tiles import Rect
from zvkdiag.testing.blind import BlindCapturer
from zvkdiag.testing.xvfb import XServer

from .scenes import until

pytestmark = pytest.mark.x11


def draw(screen: XServer, colour: str) -> None:
    """Paint the root window (xsetroot returns once the server has done it)."""
    subprocess.run(["xsetroot", "-solid", colour], env=screen.env(), check=True)


def seen_within(watch: DamageWatch, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if watch.changed():
            return True
        time.sleep(0.01)
    return False


def loud_within(capturer: Capturer, seconds: float = 2.0) -> bool:
    """The server sends the damage event asynchronously: allow it to arrive."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not capturer.quiet():
            return True
        time.sleep(0.01)
    return False


def test_drawing_is_reported_once_then_quiet(screen: XServer) -> None:
    watch = DamageWatch.open(screen.display)
    assert watch is not None
    try:
        seen_within(watch)  # creating the watch damages the whole window once
        assert not watch.changed()
        draw(screen, "#336699")
        assert seen_within(watch)
        assert not watch.changed()
    finally:
        watch.close()


def test_no_display_means_no_watch() -> None:
    assert DamageWatch.open(":4095") is None


def test_capturer_is_quiet_only_while_nothing_changes(screen: XServer) -> None:
    with Capturer(display=screen.display) as capturer:
        capturer.grab()
        deadline = time.monotonic() + 2
        while not capturer.quiet() and time.monotonic() < deadline:
            capturer.grab()  # the initial damage of the new watch
        assert capturer.quiet()
        draw(screen, "#aa3300")
        assert loud_within(capturer)
        capturer.grab()
        subprocess.run(["xdotool", "mousemove", "50", "60"], env=screen.env(), check=True)
        assert loud_within(capturer)  # the pointer moved: it is drawn into the frame
        capturer.grab()
        assert capturer.quiet()


def test_the_socket_turns_readable_when_something_is_drawn(screen: XServer) -> None:
    watch = DamageWatch.open(screen.display)
    assert watch is not None
    try:
        seen_within(watch)
        assert not watch.changed()
        readable, _, _ = select.select([watch.fileno()], [], [], 0)
        assert readable == []
        draw(screen, "#225588")
        readable, _, _ = select.select([watch.fileno()], [], [], 10)
        assert readable == [watch.fileno()]
        assert watch.changed()
    finally:
        watch.close()
    assert watch.fileno() == -1


def test_a_drawing_is_streamed_without_waiting_for_the_next_poll(screen: XServer) -> None:
    """The poll comes every 30 s here: only the DAMAGE wake-up can deliver the change in time."""

    async def main() -> tuple[bool, int]:
        streamer = ScreenStreamer(display=screen.display, max_fps=1000, poll_fps=1 / 30)
        frames = streamer.frames()
        try:
            first = decode_frame(await asyncio.wait_for(anext(frames), 10))
            await asyncio.sleep(0.3)  # the new watch's own first damage is grabbed (no change)
            draw(screen, "#884422")
            second = decode_frame(await asyncio.wait_for(anext(frames), 10))
            return first.keyframe, len(second.tiles)
        finally:
            await frames.aclose()

    keyframe, tiles = asyncio.run(main())
    assert keyframe
    assert tiles > 0


def test_a_drawing_right_after_another_is_streamed_at_once(screen: XServer) -> None:
    """Applications draw in bursts: the grab after the first may follow without a grab period.

    The streamer's clock stands still here, so waiting for a grab period would never end:
    only the second grab of the budget can deliver the second drawing, and a third one
    has to wait until time passes.
    """
    now = [100.0]

    async def next_frame(frames: AsyncIterator[bytes], streamer: ScreenStreamer) -> Frame:
        frame = decode_frame(await asyncio.wait_for(anext(frames), 10))
        streamer.on_ack(frame.seq)
        return frame

    async def main() -> tuple[int, int, bool, int]:
        streamer = ScreenStreamer(
            display=screen.display, max_fps=1.0, poll_fps=1 / 30, clock=lambda: now[0]
        )
        frames = streamer.frames()
        try:
            await next_frame(frames, streamer)
            await asyncio.sleep(0.3)  # the new watch's own first damage is grabbed (no change)
            now[0] += 5.0  # the budget refills: two grabs
            draw(screen, "#884422")
            first = await next_frame(frames, streamer)
            draw(screen, "#228844")
            second = await next_frame(frames, streamer)
            draw(screen, "#442288")
            third = asyncio.ensure_future(next_frame(frames, streamer))
            await asyncio.sleep(0.5)
            waited = not third.done()
            now[0] += 1.0  # one more grab allowed
            return len(first.tiles), len(second.tiles), waited, len((await third).tiles)
        finally:
            await frames.aclose()

    first, second, waited, third = asyncio.run(main())
    assert first > 0 and second > 0 and third > 0
    assert waited


def small_window(screen: XServer, colour: str, x: int, y: int) -> subprocess.Popen[bytes]:
    """A 50×40 Tk window of one colour at (x, y) until the test ends it (no WM: placed as asked)."""
    code = (
        "import tkinter as t; r = t.Tk(); r.overrideredirect(True);"
        f"r.geometry('50x40+{x}+{y}'); r.configure(bg='{colour}'); r.mainloop()"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=screen.env())


def test_the_drawn_area_is_reported(screen: XServer) -> None:
    watch = DamageWatch.open(screen.display)
    assert watch is not None
    window = small_window(screen, "#cc2244", 100, 200)
    try:
        deadline = time.monotonic() + 10
        found: list[tuple[int, int, int, int]] = []
        while time.monotonic() < deadline and (100, 200, 50, 40) not in found:
            if watch.changed():
                assert watch.rects is not None
                found.extend(watch.rects)
            time.sleep(0.02)
        assert (100, 200, 50, 40) in found
        assert all(w * h < 640 * 480 for _, _, w, h in found[1:])
        deadline = time.monotonic() + 5
        while watch.changed() and time.monotonic() < deadline:
            time.sleep(0.05)  # Tk may draw once more right after the window shows
        assert not watch.changed() and watch.rects == ()
    finally:
        window.kill()
        window.wait()
        watch.close()


def test_grabbing_only_what_changed_keeps_the_frame_exact(screen: XServer) -> None:
    with Capturer(display=screen.display) as capturer:
        first, parts = capturer.grab_changed()
        assert parts is None  # the first grab takes the whole screen
        deadline = time.monotonic() + 10
        while not capturer.quiet() and time.monotonic() < deadline:
            capturer.grab_changed()  # the new watch's own first damage: the whole screen
        windows = []
        try:
            for step, (x, y) in enumerate([(100, 200), (400, 50), (420, 70)]):
                windows.append(small_window(screen, ["#cc2244", "#22cc44", "#2244cc"][step], x, y))
                assert loud_within(capturer, 10)
                time.sleep(0.3)  # the window has drawn itself (areas add up until the grab)
                capturer.quiet()
                frame, parts = capturer.grab_changed()
                assert parts is not None and 0 < sum(p.w * p.h for p in parts) < 640 * 480 / 2
                assert np.array_equal(frame[..., :3], capturer.grab()[..., :3]), f"step {step}"
            subprocess.run(["xdotool", "mousemove", "300", "300"], env=screen.env(), check=True)
            assert loud_within(capturer)
            frame, parts = capturer.grab_changed()
            assert parts is not None
            assert np.array_equal(frame[..., :3], capturer.grab()[..., :3])
        finally:
            for window in windows:
                window.kill()
                window.wait()


class RecordingCapturer(Capturer):
    """The real capturer, noting the parts of each grab in order."""

    def __init__(self, display: str) -> None:
        super().__init__(display=display)
        self.grabs: list[list[Rect]] = []

    def _grab_parts(self, frame: np.ndarray, parts: list[Rect]) -> None:
        self.grabs.append(list(parts))
        super()._grab_parts(frame, parts)


def test_the_drawn_box_is_grabbed_first_and_only_once(screen: XServer) -> None:
    """A drawing's own box is grabbed before anything else (the pointer's place comes after).

    The sooner the grab follows DAMAGE, the more often a drawing made in bursts
    (a scroll, then the new lines) shows as two frames, as on the screen.
    """
    with RecordingCapturer(screen.display) as capturer:
        capturer.grab_changed()
        while not capturer.quiet():
            capturer.grab_changed()  # the new watch's own first damage
        window = small_window(screen, "#cc2244", 100, 200)
        try:
            assert loud_within(capturer, 10)
            time.sleep(0.3)  # the window has drawn itself
            capturer.quiet()
            capturer.grabs.clear()
            frame, parts = capturer.grab_changed()
            box = Rect(64, 192, 128, 64)  # the tiles under the 50x40 window at (100, 200)
            assert capturer.grabs[0] == [box]
            later = [part for grab in capturer.grabs[1:] for part in grab]
            assert all(
                part.x + part.w <= box.x
                or box.x + box.w <= part.x
                or part.y + part.h <= box.y
                or box.y + box.h <= part.y
                for part in later
            )
            assert parts is not None and box in parts
            assert np.array_equal(frame[..., :3], capturer.grab()[..., :3])
        finally:
            window.kill()
            window.wait()


def test_a_still_pointer_is_not_fetched_again_and_stays_blended_under_a_drawing(
    screen: XServer,
) -> None:
    """A drawing elsewhere grabs only itself; one under the pointer blends the kept image again."""
    subprocess.run(["xdotool", "mousemove", "130", "215"], env=screen.env(), check=True)
    with RecordingCapturer(screen.display) as capturer:
        capturer.grab_changed()
        deadline = time.monotonic() + 10
        while not capturer.quiet() and time.monotonic() < deadline:
            capturer.grab_changed()  # the new watch's own first damage, the pointer's move
        windows = []
        try:
            for colour, x, y in (("#22cc44", 500, 400), ("#cc2244", 100, 200)):  # far, under it
                windows.append(small_window(screen, colour, x, y))
                assert loud_within(capturer, 10), colour
                time.sleep(0.3)  # the window has drawn itself
                capturer.quiet()
                fetches, capturer.grabs = capturer.cursor_fetches, []
                frame, parts = capturer.grab_changed()
                assert capturer.cursor_fetches == fetches
                assert parts is not None
                assert np.array_equal(frame[..., :3], capturer.grab()[..., :3]), colour
            assert all(p.x >= 64 and p.y >= 192 for grab in capturer.grabs for p in grab)
        finally:
            for window in windows:
                window.kill()
                window.wait()


def test_the_pointer_is_sent_from_the_grabbed_parts_alone(screen: XServer) -> None:
    """Capturer → encoder → canvas without the streamer's once-a-second full grab."""
    encoder, canvas = FrameEncoder(), Canvas()

    def send(frame: np.ndarray, parts: list[Rect] | None, seq: int) -> None:
        tiles = encoder.encode(frame, now=float(seq), areas=parts)
        height, width = frame.shape[:2]
        canvas.apply(Frame(seq, width, height, 0.0, encoder.last_was_keyframe, tuple(tiles)))

    with Capturer(display=screen.display) as capturer:
        send(*capturer.grab_changed(), seq=1)
        while not capturer.quiet():
            send(*capturer.grab_changed(), seq=2)  # the new watch's own first damage
        for seq, (x, y) in enumerate([(30, 40), (300, 200), (305, 203), (620, 100)], start=3):
            subprocess.run(["xdotool", "mousemove", str(x), str(y)], env=screen.env(), check=True)
            assert loud_within(capturer)
            frame, parts = capturer.grab_changed()
            assert parts is not None
            send(frame, parts, seq)
            shown = canvas.pixels()[..., :3]
            assert np.array_equal(shown, capturer.grab()[..., :3]), f"pointer at {x},{y}"


def test_a_still_screen_keeps_the_worker_to_itself(
    screen: XServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing drawn, the worker checks the pointer itself; the loop is not woken per tick.

    At 60 ticks a second, one hand-over per tick would be ~60 turns a second; the
    worker keeps ticking and hands back only for the full poll (made once a second
    here, every ``FULL_POLL`` seconds in use).
    """
    monkeypatch.setattr(stream, "FULL_POLL", 1.0)

    async def main() -> tuple[int, int]:
        streamer = ScreenStreamer(display=screen.display, max_fps=60)
        frames = streamer.frames()
        try:
            first = decode_frame(await asyncio.wait_for(anext(frames), 10))
            streamer.on_ack(first.seq)
            idle = asyncio.ensure_future(anext(frames))
            await asyncio.sleep(0.5)
            before = streamer.stats.turns
            await asyncio.sleep(2.0)
            idle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await idle
            return streamer.stats.turns - before, streamer.stats.captures
        finally:
            await frames.aclose()

    turns, captures = asyncio.run(main())
    assert turns <= 8
    assert captures >= 2  # the full poll still ran


async def _idle_worker(
    screen: XServer, now: list[float]
) -> tuple[ScreenStreamer, AsyncIterator[bytes], asyncio.Future[bytes]]:
    """A stream whose worker waits for news that will not come by itself.

    The streamer's clock moves only when the test moves it: one turn is made due,
    then neither a tick's hand-back nor a full poll can end the worker's wait.
    """
    streamer = ScreenStreamer(display=screen.display, max_fps=60, clock=lambda: now[0])
    frames = streamer.frames()
    first = decode_frame(await asyncio.wait_for(anext(frames), 10))
    streamer.on_ack(first.seq)
    pending = asyncio.ensure_future(anext(frames))
    now[0] += 0.1  # a turn is due: the worker takes it and waits
    await asyncio.sleep(0.3)
    return streamer, frames, pending


def test_a_refresh_reaches_an_idle_worker(screen: XServer) -> None:
    """Only the interrupt hands the refresh back to the loop, which then sends a keyframe."""
    now = [100.0]

    async def main() -> tuple[bool, int]:
        streamer, frames, pending = await _idle_worker(screen, now)
        try:
            turns = streamer.stats.turns
            now[0] += 0.1  # the next turn is due too, once the worker hands back
            streamer.on_control(encode_control(Control(ControlKind.REFRESH)))
            second = decode_frame(await asyncio.wait_for(pending, 10))
            return second.keyframe, streamer.stats.turns - turns
        finally:
            await frames.aclose()

    assert asyncio.run(main()) == (True, 1)


def test_an_idle_worker_grabs_a_drawing_itself(screen: XServer) -> None:
    """The worker wakes on the DAMAGE socket and grabs in the same turn (no hand-back)."""
    now = [100.0]

    async def main() -> tuple[int, int]:
        streamer, frames, pending = await _idle_worker(screen, now)
        try:
            turns = streamer.stats.turns
            draw(screen, "#336699")
            second = decode_frame(await asyncio.wait_for(pending, 10))
            return len(second.tiles), streamer.stats.turns - turns
        finally:
            await frames.aclose()

    tiles, more_turns = asyncio.run(main())
    assert tiles > 0
    assert more_turns == 0


def test_an_idle_worker_keeps_to_the_grab_budget(screen: XServer) -> None:
    """A drawing the budget does not allow yet is handed back to the loop, which waits.

    One grab a second with a burst of two, and the streamer's clock stands still
    between the test's steps: after the keyframe and one drawing the budget is spent.
    """
    now = [100.0]

    async def main() -> tuple[int, bool, int]:
        streamer = ScreenStreamer(
            display=screen.display, max_fps=1.0, poll_fps=60, clock=lambda: now[0]
        )
        frames = streamer.frames()
        try:
            streamer.on_ack(decode_frame(await asyncio.wait_for(anext(frames), 10)).seq)
            now[0] += 0.02  # a tick is due: the worker idles
            pending = asyncio.ensure_future(anext(frames))
            await asyncio.sleep(0.3)
            draw(screen, "#aa5500")
            first = decode_frame(await asyncio.wait_for(pending, 10))
            streamer.on_ack(first.seq)
            now[0] += 0.02  # the next tick: the worker idles again, the budget is spent
            pending = asyncio.ensure_future(anext(frames))
            await asyncio.sleep(0.3)
            draw(screen, "#0055aa")
            await asyncio.sleep(0.5)
            waited = not pending.done()
            now[0] += 1.0  # the budget refills
            second = decode_frame(await asyncio.wait_for(pending, 10))
            return len(first.tiles), waited, len(second.tiles)
        finally:
            await frames.aclose()

    first, waited, second = asyncio.run(main())
    assert first > 0 and second > 0
    assert waited


def test_without_damage_every_grab_takes_the_whole_screen(
    screen: XServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on Windows: no DAMAGE, so nothing says where the screen changed.  A later
    # grab must still see a new window (it once saw only the pointer's place).
    monkeypatch.setattr(DamageWatch, "open", staticmethod(lambda display: None))
    with Capturer(display=screen.display) as capturer:
        first, parts = capturer.grab_changed()
        assert parts is None
        window = small_window(screen, "#cc2244", 100, 200)
        try:
            time.sleep(1.0)  # the window has mapped and drawn itself
            frame, parts = capturer.grab_changed()
            assert parts is None
            assert np.array_equal(frame[..., :3], capturer.grab()[..., :3])
            assert not np.array_equal(frame[200:240, 100:150, :3], first[200:240, 100:150, :3])
        finally:
            window.kill()
            window.wait()


def test_the_loop_leaves_the_damage_socket_to_the_idle_worker(screen: XServer) -> None:
    """While the worker idles in select() on the DAMAGE socket, the loop does not watch it.

    Otherwise a drawing (a typed key) could wake the event loop as well, for nothing.
    The drawing still reaches the worker, which grabs it in the same turn.
    """
    now = [100.0]

    async def main() -> tuple[list[bool], int]:
        streamer, frames, pending = await _idle_worker(screen, now)
        loop = asyncio.get_running_loop()
        watched = []
        try:
            turns = streamer.stats.turns
            for step, colour in enumerate(("#336699", "#993366", "#669933")):
                if step:
                    pending = asyncio.ensure_future(anext(frames))
                    now[0] += 0.1  # the next turn is due: the worker takes it and waits
                    await asyncio.sleep(0.3)
                fd = streamer._damage_fd  # the DAMAGE socket the loop watches between turns
                assert fd is not None
                watched.append(loop.remove_reader(fd))  # True: the loop had it too
                draw(screen, colour)
                streamer.on_ack(decode_frame(await asyncio.wait_for(pending, 10)).seq)
            return watched, streamer.stats.turns - turns
        finally:
            await frames.aclose()

    watched, turns = asyncio.run(main())
    assert watched == [False, False, False]
    assert turns == 2  # the two turns the test made due: each drawing taken in its turn


def test_the_safety_net_widens_while_damage_proves_right(
    screen: XServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A still screen is grabbed whole less and less often, down to ``FULL_POLL_LONGEST``.

    Each full grab that finds the screen as DAMAGE said doubles the period:
    0.2, 0.4, 0.8 s here (5, 10, 20, 30 s in use), so ~5 full grabs in 3 s
    instead of the 15 a fixed period would make.
    """
    monkeypatch.setattr(stream, "FULL_POLL", 0.2)
    monkeypatch.setattr(stream, "FULL_POLL_LONGEST", 0.8)

    async def main() -> tuple[int, float, bool]:
        streamer = ScreenStreamer(display=screen.display, max_fps=60)
        frames = streamer.frames()
        try:
            first = decode_frame(await asyncio.wait_for(anext(frames), 10))
            streamer.on_ack(first.seq)
            before = streamer.stats.captures
            idle = asyncio.ensure_future(anext(frames))
            await asyncio.sleep(3.0)
            assert not idle.done(), "a still screen sent a frame"
            idle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await idle
            net = streamer.full_poll
            return streamer.stats.captures - before, net.period, net.trusted
        finally:
            await frames.aclose()

    captures, period, trusted = asyncio.run(main())
    assert trusted
    assert period == 0.8
    assert 1 <= captures <= 8


def test_a_change_damage_missed_is_found_by_the_net_which_then_stays_tight(
    screen: XServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full grab finds what DAMAGE did not report; from then on it comes every ``FULL_POLL``."""
    monkeypatch.setattr(stream, "FULL_POLL", 0.2)
    monkeypatch.setattr(stream, "FULL_POLL_LONGEST", 0.8)
    blind = BlindCapturer(display=screen.display, blind=Rect(0, 0, screen.width, screen.height))

    async def main() -> tuple[Frame, float, float, bool]:
        streamer = ScreenStreamer(display=screen.display, max_fps=60, capture=lambda: blind)
        frames = streamer.frames()
        try:
            first = decode_frame(await asyncio.wait_for(anext(frames), 10))
            streamer.on_ack(first.seq)
            found = asyncio.ensure_future(anext(frames))
            await until(lambda: streamer.full_poll.period == 0.8)
            widened = streamer.full_poll.period
            await asyncio.to_thread(draw, screen, "#a03050")
            frame = decode_frame(await asyncio.wait_for(found, 10))
            streamer.on_ack(frame.seq)
            later = asyncio.ensure_future(anext(frames))
            await asyncio.sleep(1.5)  # several more full grabs of a still screen
            later.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await later
            return frame, widened, streamer.full_poll.period, streamer.full_poll.trusted
        finally:
            await frames.aclose()

    frame, widened, period, trusted = asyncio.run(main())
    assert widened == 0.8
    assert blind.unreported >= 1  # DAMAGE did see the drawing: the fake forgot it
    assert frame.tiles and not frame.keyframe
    assert period == 0.2
    assert not trusted
