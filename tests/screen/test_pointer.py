"""Pointer news on the DAMAGE connection: raw motion, cursor changes, warps (real Xvfb)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import select
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from zvkdiag.screen import damage, pointer
from zvkdiag.screen.capture import POSITION_EVERY, Capturer
from zvkdiag.screen.damage import DamageWatch
from zvkdiag.screen.frames import decode_frame
from zvkdiag.screen.pointer import GENERIC_EVENT, WARP_POLL, PointerEvents
from zvkdiag.screen.stream import ScreenStreamer
from zvkdiag.testing.xvfb import XServer

pytestmark = pytest.mark.x11


@pytest.fixture
def watch(screen: XServer) -> Iterator[DamageWatch]:
    opened = DamageWatch.open(screen.display)
    assert opened is not None
    try:
        assert opened.watches_pointer, "XInput 2 and XFixes are there on Xvfb"
        settle(opened)
        yield opened
    finally:
        opened.close()


def settle(watch: DamageWatch) -> None:
    """Read everything said so far (the first call also learns where the pointer is)."""
    for _ in range(3):
        watch.changed()
        watch.take_pointer_news()
        time.sleep(0.05)


def settle_capturer(capturer: Capturer) -> None:
    """Grab until the capturer is quiet (a new watch sees its own first damage)."""
    capturer.grab_changed()
    deadline = time.monotonic() + 10
    while not capturer.quiet() and time.monotonic() < deadline:
        capturer.grab_changed()


def readable(watch: DamageWatch, seconds: float = 5.0) -> bool:
    ready, _, _ = select.select([watch.fileno()], [], [], seconds)
    return bool(ready)


def xdotool(screen: XServer, *args: str) -> None:
    subprocess.run(["xdotool", *args], env=screen.env(), check=True)


def test_a_still_pointer_is_no_news(watch: DamageWatch) -> None:
    assert not readable(watch, 0.3)
    watch.changed()
    assert not watch.take_pointer_news()
    assert not watch.take_pointer_news()


def test_a_device_moving_the_pointer_wakes_the_socket(screen: XServer, watch: DamageWatch) -> None:
    xdotool(screen, "mousemove_relative", "--", "7", "5")  # XTest: a device moved, as a mouse does
    assert readable(watch)
    watch.changed()
    assert watch.take_pointer_news()
    assert not watch.take_pointer_news()  # told once


def test_a_new_pointer_image_wakes_the_socket(screen: XServer, watch: DamageWatch) -> None:
    subprocess.run(["xsetroot", "-cursor_name", "watch"], env=screen.env(), check=True)
    assert readable(watch)
    watch.changed()
    assert watch.take_pointer_news()


def test_a_warped_pointer_is_found_by_asking(screen: XServer, watch: DamageWatch) -> None:
    """A program's XWarpPointer sends no raw motion; the position check still sees it."""
    xdotool(screen, "mousemove", "40", "30")
    watch.changed()
    assert watch.take_pointer_news()
    assert not watch.take_pointer_news()


def test_a_still_screen_costs_no_pointer_image(screen: XServer) -> None:
    """Without news the capturer asks where the pointer is, not what it looks like."""
    with Capturer(display=screen.display) as capturer:
        settle_capturer(capturer)
        before = capturer.cursor_fetches
        assert all(capturer.quiet() for _ in range(50))
        assert capturer.cursor_fetches == before
        xdotool(screen, "mousemove_relative", "--", "3", "3")
        deadline = time.monotonic() + 5
        while capturer.quiet() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert capturer.cursor_fetches == before + 1


def test_looks_and_grabs_ask_where_the_pointer_is_only_now_and_then(
    screen: XServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each ask is a round trip to the X server; typing used to pay two a key (a look, a grab).

    The asks are bounded by the time that passed: load only loosens the bound.
    """
    asked = 0
    real = damage.pointer_position

    def counting(*args: Any) -> tuple[int, int] | None:
        nonlocal asked
        asked += 1
        return real(*args)

    monkeypatch.setattr(damage, "pointer_position", counting)
    with Capturer(display=screen.display) as capturer:
        capturer.grab_changed()
        asked, start = 0, time.monotonic()
        for _ in range(30):
            capturer.quiet()
            capturer.grab_changed()
        seconds = time.monotonic() - start
    assert asked <= 1 + seconds / POSITION_EVERY


def test_a_warp_is_still_seen_by_a_look(screen: XServer) -> None:
    """No event tells of a program's warp: ``quiet()`` finds it when it next asks."""
    with Capturer(display=screen.display) as capturer:
        settle_capturer(capturer)
        xdotool(screen, "mousemove", "--", "211", "157")
        deadline = time.monotonic() + 5
        while capturer.quiet() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert time.monotonic() < deadline, "the warped pointer was never noticed"


class CountingCapturer(Capturer):
    """A real capturer that counts how often the streamer looks at the screen."""

    looks = 0

    def quiet(self) -> bool:
        self.looks += 1
        return super().quiet()


def test_a_still_screen_is_looked_at_only_for_warps(screen: XServer) -> None:
    """Events report what devices do: the ticks come every ``WARP_POLL``, not 15 times a second.

    Load can only make the ticks fewer, so the count has an upper bound only.
    """
    capturers: list[CountingCapturer] = []

    def source() -> CountingCapturer:
        capturers.append(CountingCapturer(display=screen.display))
        return capturers[-1]

    async def main() -> tuple[int, float]:
        streamer = ScreenStreamer(capture=source)

        async def consume() -> None:
            async for blob in streamer.frames():
                streamer.on_ack(decode_frame(blob).seq)

        task = asyncio.create_task(consume())
        try:
            await asyncio.sleep(1.0)  # the keyframe, and the new watch's own first damage
            before, start = capturers[0].looks, time.monotonic()
            await asyncio.sleep(2.0)
            return capturers[0].looks - before, time.monotonic() - start
        finally:
            streamer.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)

    looks, seconds = asyncio.run(main())
    assert capturers[0].pointer_events  # else the ticks must fetch the pointer image each time
    assert looks <= seconds / WARP_POLL + 3


def _event(*head: int) -> ctypes.Array[ctypes.c_uint8]:
    return (ctypes.c_uint8 * 32)(*head)


def test_events_are_told_apart() -> None:
    news = PointerEvents(xinput_opcode=131, cursor_notify=88)
    assert news.is_pointer_news(_event(GENERIC_EVENT, 131))
    assert not news.is_pointer_news(_event(GENERIC_EVENT, 140))  # another extension's
    assert news.is_pointer_news(_event(88))
    assert news.is_pointer_news(_event(88 | 0x80))  # sent by a client: still news
    assert not news.is_pointer_news(_event(87))  # e.g. DamageNotify


def test_without_xinput_the_pointer_is_polled_as_before(
    screen: XServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine without libxcb-xinput: no pointer events, the image is asked every time."""
    real_load = pointer.load
    monkeypatch.setattr(
        pointer, "load", lambda name: None if name == "xcb-xinput" else real_load(name)
    )
    with Capturer(display=screen.display) as capturer:
        assert not capturer.pointer_events
        capturer.grab_changed()
        deadline = time.monotonic() + 10
        while not capturer.quiet() and time.monotonic() < deadline:
            capturer.grab_changed()
        before = capturer.cursor_fetches
        assert all(capturer.quiet() for _ in range(5))
        assert capturer.cursor_fetches == before + 5
        xdotool(screen, "mousemove", "50", "60")
        assert not capturer.quiet()


def test_a_drawing_read_with_the_pointer_reply_is_not_lost(
    screen: XServer, watch: DamageWatch
) -> None:
    """The position's reply pulls a waiting DamageNotify into xcb's queue: no wake-up comes."""
    subprocess.run(["xsetroot", "-solid", "#336699"], env=screen.env(), check=True)
    assert readable(watch)  # the DamageNotify waits in the socket
    watch.take_pointer_news()  # ... and is read together with the reply
    assert not readable(watch, 0.1)
    assert watch.pending
    assert watch.changed()


def test_keys_are_not_listened_to(screen: XServer, watch: DamageWatch) -> None:
    """Only pointer motion is selected: key presses bring no XInput events.

    (The X server does tell every client that the keyboard mapping changed when the
    typing device changes: a core MappingNotify, which nobody selects or can refuse.)
    """
    xdotool(screen, "key", "a", "Return", "BackSpace")
    time.sleep(0.3)
    watch.changed()
    assert not watch.take_pointer_news()
