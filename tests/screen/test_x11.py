"""The whole chain on a real X screen (Xvfb): capture → encode → wire → canvas."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable

import mss
import numpy as np
import pytest

from zvkdiag._errors import SessionClosed
from zvkdiag.screen.capture import CaptureError, Capturer, list_monitors
from zvkdiag.screen.codec import Encoding
from zvkdiag.screen.frames import MAX_CONTROL_BYTES, MAX_FRAME_BYTES
from zvkdiag.screen.receiver import ReceivedFrame, ScreenReceiver
from zvkdiag.screen.stream import ScreenStreamer, serve_screen
from zvkdiag.testing.xvfb import XServer
from zvkdiag.wire.messages import read_message, write_message

from .conftest import Scene
from .scenes import MemoryPipe, reader_with_timeout

pytestmark = pytest.mark.x11

SETTLED_AFTER = 1.0  # no frame for this long: refinement is done (refine_after is 0.25 s)


def grab_now(display: str) -> np.ndarray:
    with Capturer(display=display) as capturer:
        return capturer.grab()


def same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a[..., :3], b[..., :3]))


def test_monitors_are_listed(screen: XServer) -> None:
    monitors = list_monitors(screen.display)
    assert (monitors[0].width, monitors[0].height) == (640, 480)
    assert len(monitors) >= 2 and monitors[0].index == 0


def test_unknown_monitor_is_a_clear_error(screen: XServer) -> None:
    with pytest.raises(CaptureError, match="no monitor 7"):
        Capturer(7, display=screen.display)


def test_the_cursor_is_in_the_picture(screen: XServer) -> None:
    where = subprocess.run(
        ["xdotool", "getmouselocation", "--shell"],
        env=screen.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pointer = dict(line.split("=") for line in where.split())
    px, py = int(pointer["X"]), int(pointer["Y"])
    with Capturer(display=screen.display) as with_cursor:
        assert with_cursor.has_cursor
        shown = with_cursor.grab()
    with Capturer(display=screen.display, with_cursor=False) as bare:
        plain = bare.grab()
    ys, xs = np.nonzero((shown[..., :3] != plain[..., :3]).any(axis=2))
    assert ys.size > 20  # the pointer's pixels, around the pointer only
    assert py - 32 <= ys.min() and ys.max() <= py + 32
    assert px - 32 <= xs.min() and xs.max() <= px + 32


def test_our_cursor_blend_matches_mss_pixel_for_pixel(screen: XServer) -> None:
    with mss.MSS(display=screen.display, with_cursor=True) as sct:
        shot = sct.grab(sct.monitors[0])
        theirs = np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)
    ours = grab_now(screen.display)
    assert np.array_equal(ours[..., :3], theirs[..., :3])


async def stream_in_memory(
    display: str, *, during: Callable[[], None] | None = None
) -> tuple[ScreenReceiver, list[ReceivedFrame]]:
    streamer = ScreenStreamer(display=display)
    down, up = MemoryPipe(), MemoryPipe()
    server = asyncio.create_task(serve_screen(streamer, read=up.read, write=down.write))
    receiver = ScreenReceiver()
    got: list[ReceivedFrame] = []
    async for frame in receiver.frames(reader_with_timeout(down, SETTLED_AFTER), up.write):
        got.append(frame)
        if during is not None and len(got) == 1:
            await asyncio.to_thread(during)
    up.close()
    await asyncio.wait_for(server, 5)
    return receiver, got


def test_settled_view_equals_the_screen_pixel_for_pixel(scene: Scene) -> None:
    receiver, got = asyncio.run(stream_in_memory(scene.display))
    assert got[0].frame.keyframe
    used = {t.encoding for g in got for t in g.frame.tiles}
    assert Encoding.JPEG in used and Encoding.LOSSLESS in used  # photo first lossy, then refined
    assert same_picture(receiver.canvas.pixels(), grab_now(scene.display))
    snapshot = np.asarray(receiver.snapshot())
    assert np.array_equal(snapshot, grab_now(scene.display)[..., 2::-1])


def test_small_text_changes_travel_as_small_exact_deltas(scene: Scene) -> None:
    def type_slowly() -> None:
        for n in range(1, 6):
            scene.say("typed: " + "x" * n)

    receiver, got = asyncio.run(stream_in_memory(scene.display, during=type_slowly))
    typing = [g for g in got if {t.encoding for t in g.frame.tiles} == {Encoding.PALETTE}]
    assert typing, "no frame consisted of palette rectangles only"
    assert max(g.wire_bytes for g in typing) < 1500
    assert same_picture(receiver.canvas.pixels(), grab_now(scene.display))


def test_pointer_moves_and_drawings_elsewhere_end_exact(scene: Scene) -> None:
    """Only damaged areas and the pointer's old and new places are grabbed and compared:
    after a walk of the pointer over the scene and text changes the view is still exact."""

    def walk_and_type() -> None:
        for n, (x, y) in enumerate([(30, 40), (300, 200), (305, 203), (10, 470), (620, 100)]):
            subprocess.run(["xdotool", "mousemove", str(x), str(y)], env=scene.server.env())
            scene.say("moved " * (n + 1))
            time.sleep(0.1)  # one frame per step

    receiver, got = asyncio.run(stream_in_memory(scene.display, during=walk_and_type))
    assert len(got) >= 3
    assert same_picture(receiver.canvas.pixels(), grab_now(scene.display))


def test_chain_over_a_loopback_socket(scene: Scene) -> None:
    async def main() -> tuple[ScreenReceiver, int]:
        streamer = ScreenStreamer(display=scene.display)
        served = asyncio.Event()

        async def agent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await serve_screen(
                streamer,
                read=lambda: read_message(reader, MAX_CONTROL_BYTES),
                write=lambda blob: write_message(writer, blob),
            )
            writer.close()
            served.set()

        server = await asyncio.start_server(agent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        receiver = ScreenReceiver()

        async def read() -> bytes | None:
            try:
                return await asyncio.wait_for(read_message(reader, MAX_FRAME_BYTES), SETTLED_AFTER)
            except TimeoutError:
                return None

        await receiver.run(read, lambda blob: write_message(writer, blob))
        writer.close()
        await asyncio.wait_for(served.wait(), 5)
        server.close()
        await server.wait_closed()
        return receiver, streamer.stats.frames

    receiver, frames = asyncio.run(main())
    assert frames >= 2
    assert same_picture(receiver.canvas.pixels(), grab_now(scene.display))


def test_screenshot_waits_for_a_settled_exact_picture(scene: Scene) -> None:
    async def main() -> np.ndarray:
        streamer = ScreenStreamer(display=scene.display)
        down, up = MemoryPipe(), MemoryPipe()
        server = asyncio.create_task(serve_screen(streamer, read=up.read, write=down.write))
        image = await ScreenReceiver().screenshot(down.read, up.write)
        up.close()
        await asyncio.wait_for(server, 5)
        return np.asarray(image)

    picture = asyncio.run(main())
    assert np.array_equal(picture, grab_now(scene.display)[..., 2::-1])


def test_screenshot_of_an_ended_stream_is_a_clear_error() -> None:
    async def main() -> None:
        down, up = MemoryPipe(), MemoryPipe()
        down.close()
        await ScreenReceiver().screenshot(down.read, up.write)

    with pytest.raises(SessionClosed, match="ended before"):
        asyncio.run(main())
