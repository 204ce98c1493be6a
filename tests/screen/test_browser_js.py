"""screen.js in a real headless Chromium, fed by a stand-in for the anywidget model.

The page gets the module source and a minimal model (``get``/``on``/``off``/
``send``); Python pushes the messages the widget would send, then reads the
canvas back and the acks the script sent.  JupyterLab itself is not involved.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zvkdiag.widgets.screen as screen_widget

from .scenes import ChangingScreen, text_screen
from .test_browser_hop import Pair, W, _colourful_text, frame, lossless_tiles
from .test_widget import PhotoThenStill, RecordingView, drive

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

HARNESS = """
async ([source]) => {
  window.acks = [];
  window.sent = [];
  const handlers = {};
  const model = {
    get: (name) => (name === "title" ? "test screen" : window.values?.[name]),
    on: (event, fn) => { handlers[event] = fn; },
    off: (event) => { delete handlers[event]; },
    send: (content) => {
      window.sent.push(content);
      if (content.type === "ack") window.acks.push(content.seq);
    },
  };
  window.deliver = (content, buffers) => {
    const views = buffers.map((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      return new DataView(bytes.buffer);
    });
    handlers["msg:custom"](content, views);
  };
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const mod = await import(url);
  mod.default.render({ model, el: document.body });
}
"""

READ_CANVAS = """
() => {
  const c = document.querySelector("canvas");
  const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let s = ""; for (let i = 0; i < data.length; i++) s += String.fromCharCode(data[i]);
  return [c.width, c.height, btoa(s)];
}
"""


@pytest.fixture(scope="module")
def page() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api")
    if shutil.which(CHROMIUM) is None:
        pytest.skip("chromium is not installed")
    with tempfile.TemporaryDirectory() as profile, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def load(page: Any, **values: Any) -> None:
    """The script rendered into a blank page; ``values``: the model's synced traits."""
    page.set_content("<html><body></body></html>")
    page.evaluate("(values) => { window.values = values; }", values)
    source = (Path(screen_widget.__file__).parent / "static" / "screen.js").read_text()
    page.evaluate(HARNESS, [source])


def deliver_all(page: Any, frames: list[tuple[dict[str, Any], list[bytes]]]) -> None:
    for content, buffers in frames:
        page.evaluate(
            "([c, b]) => window.deliver(c, b)",
            [content, [base64.b64encode(b).decode() for b in buffers]],
        )


def test_frames_are_drawn_exactly_and_acknowledged(page: Any) -> None:
    view = RecordingView()
    screen = PhotoThenStill()
    with ThreadPoolExecutor(1) as pool:  # playwright's sync API owns this thread's loop
        receiver = pool.submit(asyncio.run, drive(view, screen, 1000)).result()
    load(page)
    assert page.evaluate("window.sent") == [{"type": "ready", "inflate": True}]
    frames = view.frames()
    for content, buffers in frames:
        page.evaluate(
            "([c, b]) => window.deliver(c, b)",
            [content, [base64.b64encode(b).decode() for b in buffers]],
        )
    assert {t[4] for c, _ in frames for t in c["tiles"]} == {"jpeg", "rgb", "copy"}
    last = frames[-1][0]["seq"]
    page.wait_for_function(f"window.acks.length && window.acks.at(-1) === {last}")
    acks = page.evaluate("window.acks")
    assert acks == sorted(acks) and len(acks) <= len(frames)
    width, height, pixels = page.evaluate(READ_CANVAS)
    drawn = np.frombuffer(base64.b64decode(pixels), np.uint8).reshape(height, width, 4)
    assert (width, height) == receiver.canvas.size
    assert np.array_equal(drawn[..., :3], receiver.canvas.pixels()[..., 2::-1])


class DraggedWindow(ChangingScreen):
    """A text window dragged down and to the right over a gradient for a few grabs."""

    def __init__(self) -> None:
        super().__init__(384, 512)
        self.base[..., :3] = (np.arange(384) * 200 // 384)[:, None, None]
        self.window = text_screen(160, 200, seed=12)

    def grab(self) -> np.ndarray:
        self.grabs += 1
        return self.picture(min(self.grabs, 8))

    def picture(self, step: int) -> np.ndarray:
        frame = self.base.copy()
        frame[40 + 4 * step : 200 + 4 * step, 60 + 5 * step : 260 + 5 * step] = self.window
        return frame


def test_a_window_moved_both_ways_is_copied_by_the_canvas_exactly(page: Any) -> None:
    view = RecordingView()
    with ThreadPoolExecutor(1) as pool:
        receiver = pool.submit(asyncio.run, drive(view, DraggedWindow(), 1000)).result()
    load(page)
    frames = view.frames()
    for content, buffers in frames:
        page.evaluate(
            "([c, b]) => window.deliver(c, b)",
            [content, [base64.b64encode(b).decode() for b in buffers]],
        )
    copies = [t for c, _ in frames for t in c["tiles"] if t[4] == "copy"]
    assert any(t[0] != t[5] and t[1] != t[6] for t in copies)  # diagonal: x and y differ
    width, height, pixels = page.evaluate(READ_CANVAS)
    drawn = np.frombuffer(base64.b64decode(pixels), np.uint8).reshape(height, width, 4)
    assert np.array_equal(drawn[..., :3], receiver.canvas.pixels()[..., 2::-1])
    assert np.array_equal(receiver.canvas.pixels()[..., :3], DraggedWindow().picture(8)[..., :3])


def test_buttons_send_pause_and_snapshot(page: Any) -> None:
    load(page)
    page.click("text=Pause")
    page.click("text=Snapshot")
    sent = page.evaluate("window.sent")
    assert sent[1:] == [{"type": "pause", "paused": True}, {"type": "snapshot"}]
    assert page.inner_text("button >> nth=0") == "Resume"


def test_figures_say_what_they_measure_and_go_quiet_on_a_still_screen(page: Any) -> None:
    view = RecordingView()
    screen = PhotoThenStill()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, drive(view, screen, 1000)).result()
    load(page)
    page.evaluate("() => window.deliver({type: 'rtt', ms: 3.4}, [])")
    content, buffers = view.frames()[0]
    page.evaluate(
        "([c, b]) => window.deliver(c, b)",
        [content, [base64.b64encode(b).decode() for b in buffers]],
    )
    stats = "document.querySelector('span[title]').textContent"
    page.wait_for_function(f"{stats}.includes('fps')")
    text = page.evaluate(stats)
    assert "RTT 3 ms" in text and "/s" in text
    # a still screen: once the last frame is older than the window, no frame rate is claimed
    page.wait_for_function(f"{stats}.startsWith('no changes')", timeout=10_000)
    text = page.evaluate(stats)
    assert "fps" not in text and "RTT 3 ms" in text
    assert "clock" in page.evaluate("document.querySelector('span[title]').title")


def test_packed_pixels_that_do_not_fit_are_reported_not_drawn(page: Any) -> None:
    load(page)
    rgb = bytes(range(48))  # 4x4 pixels
    short = base64.b64encode(zlib.compress(rgb[:45], wbits=-zlib.MAX_WBITS)).decode()
    good = base64.b64encode(zlib.compress(rgb, wbits=-zlib.MAX_WBITS)).decode()
    frame = {"type": "frame", "w": 8, "h": 8, "ts": 0, "wire": 1, "rgb": 48}
    tiles = [[2, 2, 4, 4, "rgb"]]
    deliver = "([c, b]) => window.deliver(c, b)"
    page.evaluate(deliver, [{**frame, "seq": 1, "rgb": 45, "tiles": tiles}, [short]])
    status = "document.querySelectorAll('span')[1].textContent"
    page.wait_for_function(f"{status}.includes('draw failed')")
    assert "past the end" in page.evaluate(status)
    page.evaluate("() => { document.querySelectorAll('span')[1].textContent = ''; }")
    garbage = base64.b64encode(b"\xff" * 20).decode()  # not deflate at all
    page.evaluate(deliver, [{**frame, "seq": 1, "tiles": tiles}, [garbage]])
    page.wait_for_function(f"{status}.includes('draw failed')")
    # the kernel is asked for the whole picture once (not again for a second failure soon after)
    assert page.evaluate("window.sent.filter((m) => m.type === 'ready').length") == 2
    page.evaluate(deliver, [{**frame, "seq": 2, "tiles": tiles}, [good]])
    page.wait_for_function("window.acks.at(-1) === 2")
    width, height, pixels = page.evaluate(READ_CANVAS)
    drawn = np.frombuffer(base64.b64decode(pixels), np.uint8).reshape(height, width, 4)
    assert np.array_equal(drawn[2:6, 2:6, :3], np.frombuffer(rgb, np.uint8).reshape(4, 4, 3))
    assert drawn[0, 0, 3] == 0  # nothing else was drawn


def test_the_browser_acknowledges_many_frames_at_once(page: Any) -> None:
    view = RecordingView()
    with ThreadPoolExecutor(1) as pool:
        receiver = pool.submit(asyncio.run, drive(view, ChangingScreen(), 70)).result()
    load(page, ack_after=RecordingView().ack_after)
    frames = view.frames()
    deliver_all(page, frames[:20])
    page.wait_for_timeout(100)  # drawn, and less than the ack interval later
    deliver_all(page, frames[20:])
    last = frames[-1][0]["seq"]
    page.wait_for_function(f"window.acks.at(-1) === {last}")  # the rest after at most 1 s
    acks = page.evaluate("window.acks")
    assert len(frames) >= 70 and acks == sorted(acks)
    assert len(acks) <= len(frames) // 32 + 2, acks  # every 32 frames, and the rest on time
    width, height, pixels = page.evaluate(READ_CANVAS)
    drawn = np.frombuffer(base64.b64decode(pixels), np.uint8).reshape(height, width, 4)
    assert np.array_equal(drawn[..., :3], receiver.canvas.pixels()[..., 2::-1])


def test_a_single_frame_is_acknowledged_after_the_interval(page: Any) -> None:
    view = RecordingView()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, drive(view, ChangingScreen(), 2)).result()
    load(page, ack_after={"frames": 32, "bytes": 1 << 19, "ms": 1000})
    deliver_all(page, view.frames()[:1])
    page.wait_for_function("window.acks.length === 1")
    assert page.evaluate("window.acks") == [1]


def test_a_view_that_joins_mid_stream_waits_for_the_stream_to_start(page: Any) -> None:
    view = RecordingView()
    with ThreadPoolExecutor(1) as pool:
        receiver = pool.submit(asyncio.run, drive(view, ChangingScreen(), 6)).result()
    frames = view.frames()
    assert "more" not in frames[0][0] and all(c.get("more") == 1 for c, _ in frames[1:])
    load(page)
    deliver_all(page, frames[3:5])  # the middle of a deflate stream: cannot be inflated
    page.wait_for_function("window.acks.at(-1) === 5")
    assert "draw failed" not in page.inner_text("body")
    assert page.evaluate("window.sent.filter((m) => m.type === 'ready').length") == 1
    deliver_all(page, frames)  # the answer to ready starts a stream; the rest continue it
    width, height, pixels = page.evaluate(READ_CANVAS)
    drawn = np.frombuffer(base64.b64decode(pixels), np.uint8).reshape(height, width, 4)
    assert np.array_equal(drawn[..., :3], receiver.canvas.pixels()[..., 2::-1])


def test_bands_with_palettes_of_their_own_are_drawn_exactly(page: Any) -> None:
    height = 192
    screen = _colourful_text(height, W)
    pair = Pair()
    message = pair.show(frame(1, *lossless_tiles(screen), keyframe=True, size=(W, height)))
    assert [t[4] for t in message[0]["tiles"]] == ["pal", "pal", "rgb"]
    load(page)
    deliver_all(page, [message])
    page.wait_for_function("window.acks.at(-1) === 1")
    width, height_drawn, pixels = page.evaluate(READ_CANVAS)
    drawn = np.frombuffer(base64.b64decode(pixels), np.uint8).reshape(height_drawn, width, 4)
    assert np.array_equal(drawn[..., :3], screen[..., 2::-1])


def test_a_palette_index_past_its_palette_is_reported_not_drawn(page: Any) -> None:
    load(page)
    packed = bytes([10, 20, 30, 40, 50, 60]) + bytes([0, 1, 2, 1])  # 2 colours, index 2
    data = base64.b64encode(zlib.compress(packed, wbits=-zlib.MAX_WBITS)).decode()
    frame = {"type": "frame", "seq": 1, "w": 8, "h": 8, "ts": 0, "wire": 1, "rgb": len(packed)}
    page.evaluate(
        "([c, b]) => window.deliver(c, b)", [{**frame, "tiles": [[0, 0, 2, 2, "pal", 2]]}, [data]]
    )
    status = "document.querySelectorAll('span')[1].textContent"
    page.wait_for_function(f"{status}.includes('draw failed')")
    assert "index past the palette" in page.evaluate(status)
