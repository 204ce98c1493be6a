"""The notebook widget without a browser: what it sends, and what it does with replies.

``RecordingView`` is a tiny subclass that keeps the messages ``send`` would
put on the comm (there is no kernel here); everything else is the real
widget, fed by a real receiver and streamer over an in-memory transport.
A stand-in for the browser applies the messages the way screen.js does.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import numpy as np
import simplejpeg
from PIL import Image

from zvkdiag.screen.flow import FlowControl
from zvkdiag.screen.receiver import ScreenReceiver
from zvkdiag.screen.stream import ScreenStreamer, serve_screen
from zvkdiag.widgets._browser_window import WINDOW_FRAMES
from zvkdiag.widgets.screen import ScreenView

from .scenes import ChangingScreen, MemoryPipe, photo_patch, text_screen


class RecordingView(ScreenView):
    def __init__(self, **kwargs: Any) -> None:
        self.sent: list[tuple[dict[str, Any], list[bytes]]] = []
        super().__init__(**kwargs)

    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.sent.append((content, list(buffers or [])))

    def frames(self) -> list[tuple[dict[str, Any], list[bytes]]]:
        return [(c, b) for c, b in self.sent if c.get("type") == "frame"]

    def from_browser(self, content: dict[str, Any]) -> None:
        self._handle_custom_msg(content, [])  # where ipywidgets delivers comm messages


class FakeBrowserCanvas:
    """Applies frame messages like screen.js does: JPEG decoded, RGBA copied, RGB inflated."""

    def __init__(self) -> None:
        self.pixels = np.zeros((0, 0, 3), np.uint8)
        self.inflate: Any = None  # the deflate stream the frames continue

    def draw(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        if "w" in content and self.pixels.shape[:2] != (content["h"], content["w"]):
            self.pixels = np.zeros((content["h"], content["w"], 3), np.uint8)
        own = iter(buffers)  # jpeg and rgba tiles take one each, in tile order
        carriers = sum(t[4] in ("jpeg", "rgba") for t in content["tiles"])  # not copy/rgb/pal
        assert len(buffers) == carriers + ("rgb" in content)
        packed = b""
        if "rgb" in content:
            if not content.get("more"):
                self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            packed = self.inflate.decompress(buffers[-1])
            assert len(packed) == content["rgb"]
            if "pal" in content:  # RGB palette, then one index per pixel
                palette = np.frombuffer(packed, np.uint8, 3 * content["pal"]).reshape(-1, 3)
                packed = palette[np.frombuffer(packed, np.uint8, offset=3 * content["pal"])]
                packed = packed.tobytes()
        offset = 0
        for x, y, w, h, kind, *source in content["tiles"]:
            if kind == "copy":
                sx, sy = source
                self.pixels[y : y + h, x : x + w] = self.pixels[sy : sy + h, sx : sx + w].copy()
                continue
            if kind == "jpeg":
                rgb = simplejpeg.decode_jpeg(next(own), "RGB")
            elif kind == "rgb":
                rgb = np.frombuffer(packed, np.uint8, w * h * 3, offset).reshape(h, w, 3)
                offset += w * h * 3
            elif kind == "pal":  # its own palette, then one index per pixel
                (entries,) = source
                palette = np.frombuffer(packed, np.uint8, 3 * entries, offset).reshape(-1, 3)
                index = np.frombuffer(packed, np.uint8, w * h, offset + 3 * entries)
                assert int(index.max()) < entries
                rgb = palette[index].reshape(h, w, 3)
                offset += 3 * entries + w * h
            else:
                data = next(own)
                assert len(data) == w * h * 4
                rgb = np.frombuffer(data, np.uint8).reshape(h, w, 4)[..., :3]
            self.pixels[y : y + h, x : x + w] = rgb
        assert offset == len(packed)


class PhotoThenStill(ChangingScreen):
    """A photo above scrolling text; both change for a few grabs, then stay still."""

    def __init__(self) -> None:
        super().__init__(256, 320)
        self.page = text_screen(512, 320, seed=11)

    def grab(self) -> np.ndarray:
        self.grabs += 1
        return self.picture(min(self.grabs, 4))

    def picture(self, step: int) -> np.ndarray:
        frame = self.base.copy()
        frame[32:96, 64:160] = photo_patch(64, 96)
        frame[0:8, 0:64, 0] = step
        frame[128:256] = self.page[step * 16 : step * 16 + 128]
        return frame


async def drive(view: RecordingView, screen: ChangingScreen, frames: int) -> ScreenReceiver:
    """Stream into the view; the 'browser' acks each frame after it was sent."""
    streamer = ScreenStreamer(capture=lambda: screen, flow=FlowControl(ack_timeout=3600))
    down, up = MemoryPipe(), MemoryPipe()
    server = asyncio.create_task(serve_screen(streamer, read=up.read, write=down.write))
    receiver = ScreenReceiver()
    view.connect(receiver)
    view.from_browser({"type": "ready"})  # the page has rendered the widget
    run = asyncio.create_task(receiver.run(down.read, up.write))
    acked, idle = 0, 0
    async with asyncio.timeout(20):
        while acked < frames and idle < 100:  # or nothing new for ~1 s: settled
            await asyncio.sleep(0.01)
            latest = view.frames()[-1][0]["seq"] if view.frames() else 0
            idle = 0 if latest > acked else idle + 1
            if latest > acked:
                view.from_browser({"type": "ack", "seq": latest})
                acked = latest
    down.close()
    await run
    up.close()
    await server
    return receiver


def test_one_message_per_frame_with_binary_buffers() -> None:
    view = RecordingView()
    receiver = asyncio.run(drive(view, ChangingScreen(), 5))
    assert view.sent[0] == ({"type": "reset"}, [])
    frames = view.frames()
    assert [c["seq"] for c, _ in frames] == list(range(1, len(frames) + 1))
    for content, buffers in frames:
        assert len(buffers) >= 1 and content["tiles"]
        assert all(isinstance(b, bytes) for b in buffers)
        assert len(json.dumps(content)) < 2000  # pixels never ride in the JSON part
        assert content["wire"] > 0
    assert view.frames_shown == len(frames) and view.acked_seq >= 5
    assert receiver.canvas.last_seq == frames[-1][0]["seq"]


def test_what_the_browser_draws_equals_the_kernel_canvas() -> None:
    view = RecordingView()
    screen = PhotoThenStill()
    receiver = asyncio.run(drive(view, screen, 1000))
    browser = FakeBrowserCanvas()
    for content, buffers in view.frames():
        browser.draw(content, buffers)
    kinds = {t[4] for c, _ in view.frames() for t in c["tiles"]}
    assert kinds == {"jpeg", "rgb", "copy"}
    assert np.array_equal(browser.pixels, receiver.canvas.pixels()[..., 2::-1])
    assert np.array_equal(browser.pixels, screen.picture(4)[..., 2::-1])


def test_ready_repaints_the_whole_picture() -> None:
    view = RecordingView()
    receiver = asyncio.run(drive(view, ChangingScreen(), 2))
    view.sent.clear()
    view.from_browser({"type": "ready"})
    ((content, buffers),) = view.sent
    assert content["tiles"] == [[0, 0, 128, 128, "rgb"], [128, 0, 64, 128, "rgb"]]  # strips
    browser = FakeBrowserCanvas()
    browser.draw(content, buffers)
    assert np.array_equal(browser.pixels, receiver.canvas.pixels()[..., 2::-1])


def test_a_browser_that_cannot_inflate_gets_raw_rgba_from_then_on() -> None:
    view = RecordingView()
    receiver = asyncio.run(drive(view, ChangingScreen(), 2))
    view.sent.clear()
    view.from_browser({"type": "ready", "inflate": False})
    ((content, buffers),) = view.sent
    assert content["tiles"] == [[0, 0, 192, 128, "rgba"]] and "rgb" not in content
    browser = FakeBrowserCanvas()
    browser.draw(content, buffers)
    assert np.array_equal(browser.pixels, receiver.canvas.pixels()[..., 2::-1])


def test_snapshot_goes_to_the_callback_losslessly() -> None:
    saved: list[Image.Image] = []
    view = RecordingView(on_snapshot=saved.append)
    receiver = asyncio.run(drive(view, ChangingScreen(), 2))
    view.from_browser({"type": "snapshot"})
    assert len(saved) == 1 and saved[0].mode == "RGB"
    assert np.array_equal(np.asarray(saved[0]), receiver.canvas.pixels()[..., 2::-1])
    assert view.sent[-1][0]["type"] == "status" and "saved" in view.sent[-1][0]["text"]


def test_a_failing_snapshot_is_reported_not_raised() -> None:
    def broken(_: Image.Image) -> None:
        raise OSError("disk full")

    view = RecordingView(on_snapshot=broken)
    asyncio.run(drive(view, ChangingScreen(), 1))
    view.from_browser({"type": "snapshot"})
    assert view.sent[-1][0] == {"type": "status", "text": "snapshot failed: disk full"}


def test_pause_from_the_browser_pauses_the_customer_side() -> None:
    async def main() -> tuple[int, int]:
        screen = ChangingScreen()
        streamer = ScreenStreamer(capture=lambda: screen, max_fps=1000)
        down, up = MemoryPipe(), MemoryPipe()
        server = asyncio.create_task(serve_screen(streamer, read=up.read, write=down.write))
        receiver = ScreenReceiver()
        view = RecordingView()
        view.connect(receiver)
        view.from_browser({"type": "ready"})
        run = asyncio.create_task(receiver.run(down.read, up.write))
        async with asyncio.timeout(10):
            while not view.frames():  # noqa: ASYNC110 (the recording has no event to wait on)
                await asyncio.sleep(0.01)
        view.from_browser({"type": "pause", "paused": True})
        view.from_browser({"type": "ack", "seq": view.frames()[-1][0]["seq"]})
        async with asyncio.timeout(10):
            while not streamer.paused:  # noqa: ASYNC110 (the control travels through the pipe)
                await asyncio.sleep(0.01)
        grabs = screen.grabs
        await asyncio.sleep(0.3)  # at 1000 fps, a running capture would grab ~300 times
        after = screen.grabs
        assert "paused" in repr(view)
        down.close()
        await run
        up.close()
        await server
        return grabs, after

    grabs, after = asyncio.run(main())
    assert after <= grabs + 1  # a grab already under way may finish


def test_repr_is_cheap_and_says_what_it_is() -> None:
    view = RecordingView()
    assert repr(view) == "<ScreenView not connected, 0 frames shown>"


def test_browser_messages_reach_the_view_through_ipywidgets_dispatch() -> None:
    """ipywidgets calls ``Widget._handle_msg(msg)`` for every comm message; the view must not
    shadow it (it did once, and every ack from a real browser failed)."""
    import ipywidgets

    from zvkdiag.widgets.screen import ScreenView

    assert ScreenView._handle_msg is ipywidgets.Widget._handle_msg


async def _stream_into(view: RecordingView, *, ready: bool) -> tuple[Any, ...]:
    """A fast-changing screen streamed into ``view``; the caller plays the browser."""
    screen = ChangingScreen()
    streamer = ScreenStreamer(
        capture=lambda: screen, max_fps=1000, flow=FlowControl(ack_timeout=3600)
    )
    down, up = MemoryPipe(), MemoryPipe()
    server = asyncio.create_task(serve_screen(streamer, read=up.read, write=down.write))
    receiver = ScreenReceiver()
    view.connect(receiver)
    if ready:
        view.from_browser({"type": "ready"})
    run = asyncio.create_task(receiver.run(down.read, up.write))
    return screen, receiver, server, run, down, up


async def _stop(server: Any, run: Any, down: MemoryPipe, up: MemoryPipe) -> None:
    down.close()
    await run
    up.close()
    await server


async def _quiet(view: RecordingView, seconds: float = 0.3) -> int:
    """Frames sent once nothing new has come for ``seconds``."""
    count = -1
    async with asyncio.timeout(20):
        while count != len(view.frames()):
            count = len(view.frames())
            await asyncio.sleep(seconds)
    return count


def test_a_browser_that_stops_acknowledging_still_throttles_the_customer() -> None:
    async def main() -> tuple[int, int, int]:
        view = RecordingView()
        screen, _receiver, server, run, down, up = await _stream_into(view, ready=True)
        stalled = await _quiet(view)  # nobody acknowledges anything
        grabs = screen.grabs
        view.from_browser({"type": "ack", "seq": view.frames()[-1][0]["seq"]})
        async with asyncio.timeout(10):
            while len(view.frames()) <= stalled:  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.01)
        resumed = len(view.frames())
        await _stop(server, run, down, up)
        return stalled, grabs, resumed

    stalled, grabs, resumed = asyncio.run(main())
    # the kernel's window (16 frames) plus the customer's own (2); at 1000 fps an
    # unthrottled capture would have sent hundreds
    assert stalled == WINDOW_FRAMES + FlowControl().window, stalled
    assert grabs <= stalled + 1
    assert resumed > stalled


def test_frames_wait_for_the_first_ready_and_the_picture_goes_once() -> None:
    async def main() -> tuple[list[Any], list[Any], np.ndarray]:
        view = RecordingView()
        screen, receiver, server, run, down, up = await _stream_into(view, ready=False)
        async with asyncio.timeout(10):
            while screen.grabs < 2:  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        before = view.frames()
        view.from_browser({"type": "ready"})
        shown = receiver.canvas.pixels()[..., 2::-1].copy()
        async with asyncio.timeout(10):
            while len(view.frames()) < 4:  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.01)
        await _stop(server, run, down, up)
        return before, view.frames(), shown

    before, after, shown = asyncio.run(main())
    assert before == []  # a page that has not rendered the widget would lose them
    (content, buffers), *changes = after
    assert content["tiles"] == [[0, 0, 128, 128, "rgb"], [128, 0, 64, 128, "rgb"]]  # strips
    browser = FakeBrowserCanvas()
    browser.draw(content, buffers)
    assert np.array_equal(browser.pixels, shown)
    for content, _ in changes:  # then only what changes (the grab counter's strip)
        assert all(w * h <= 8 * 64 for _, _, w, h, *_ in content["tiles"]), content["tiles"]
