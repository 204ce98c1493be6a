"""Windows' secure desktop (UAC prompt, lock screen): a notice instead of a black picture.

The desktop is looked up through ``FakeDesktops``, an honest stand-in for
user32's ``OpenInputDesktop``/``GetUserObjectInformationW``/``CloseDesktop``;
the stream runs on a synthetic screen (no X needed).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from zvkdiag._errors import ProtocolError
from zvkdiag.screen.codec import Encoding, encode_copy
from zvkdiag.screen.desktop import Desktop, DesktopWatch
from zvkdiag.screen.encoder import FrameEncoder
from zvkdiag.screen.flow import FlowControl
from zvkdiag.screen.frames import Frame, Tile, decode_frame, encode_frame
from zvkdiag.screen.reassemble import Canvas
from zvkdiag.screen.receiver import ReceivedFrame
from zvkdiag.screen.stream import ScreenStreamer
from zvkdiag.testing.desktops import FakeDesktops
from zvkdiag.widgets.screen import SECURE_DESKTOP_TEXT, ScreenView

from .scenes import ChangingScreen, until


def test_the_input_desktop_decides_and_every_handle_is_closed() -> None:
    desktops = FakeDesktops()
    clock = [0.0]
    watch = DesktopWatch(user32=desktops, clock=lambda: clock[0], every=0.25)
    assert watch.state() is Desktop.NORMAL
    desktops.show("Winlogon")  # opened, but named as the secure desktop
    assert watch.state() is Desktop.NORMAL  # looked up at most every 0.25 s
    clock[0] = 0.3
    assert watch.state() is Desktop.SECURE
    desktops.show("Default", refuse=True)  # refused: what an unprivileged program meets
    clock[0] = 0.6
    assert watch.state() is Desktop.SECURE
    desktops.show("default")
    clock[0] = 0.9
    assert watch.state() is Desktop.NORMAL
    assert desktops.opened == 4 and not desktops.open_handles


def test_without_windows_the_desktop_is_always_normal() -> None:
    assert DesktopWatch().state() is Desktop.NORMAL


def test_a_secure_desktop_notice_travels_and_carries_no_tiles() -> None:
    notice = Frame(7, 640, 480, 1.5, False, (), secure_desktop=True)
    assert decode_frame(encode_frame(notice)) == notice
    assert not decode_frame(encode_frame(Frame(8, 640, 480, 1.5, False, ()))).secure_desktop
    tile = Tile(0, 0, 8, 8, Encoding.COPY, encode_copy(8, 8))
    blob = bytearray(encode_frame(Frame(9, 640, 480, 1.5, False, (tile,))))
    blob[3] |= 0x02  # the flags byte: a notice with a tile
    with pytest.raises(ProtocolError, match="secure-desktop"):
        decode_frame(bytes(blob))


def test_the_stream_sends_one_notice_grabs_nothing_meanwhile_and_a_keyframe_after() -> None:
    async def main() -> tuple[list[Frame], FakeDesktops, int, int]:
        screen = ChangingScreen()
        desktops = FakeDesktops()
        streamer = ScreenStreamer(
            capture=lambda: screen,
            flow=FlowControl(ack_timeout=3600),
            max_fps=1000,
            desktop=DesktopWatch(user32=desktops, every=0),
        )
        got: list[Frame] = []

        async def consume() -> None:
            async for blob in streamer.frames():
                frame = decode_frame(blob)
                got.append(frame)
                streamer.on_ack(frame.seq)

        task = asyncio.create_task(consume())
        await until(lambda: len(got) >= 3)
        desktops.show("Winlogon", refuse=True)
        await until(lambda: any(f.secure_desktop for f in got))
        grabs, sent = screen.grabs, len(got)
        await asyncio.sleep(0.6)  # room to misbehave: the screen changes on every grab
        quiet = (screen.grabs - grabs, len(got) - sent)
        desktops.show("Default")
        await until(lambda: len(got) > sent + 1)
        streamer.stop()
        await task
        return got, desktops, *quiet

    got, desktops, grabbed, sent = asyncio.run(main())
    assert (grabbed, sent) == (0, 0)
    notices = [i for i, f in enumerate(got) if f.secure_desktop]
    assert len(notices) == 1 and got[notices[0]].tiles == ()
    back = got[notices[0] + 1]
    assert back.keyframe and not back.secure_desktop and back.tiles
    assert not desktops.open_handles


def test_the_view_shows_the_notice_until_the_picture_is_back() -> None:
    view = ScreenView()
    canvas = Canvas()
    tiles = tuple(FrameEncoder().encode(ChangingScreen(48, 64).grab(), now=0.0, keyframe=True))

    def show(frame: Frame) -> str:
        canvas.apply(frame)
        view.show(ReceivedFrame(frame, 100, time.time(), time.time()), canvas)
        return view.screen_note

    assert show(Frame(1, 64, 48, time.time(), True, tiles)) == ""
    note = show(Frame(2, 64, 48, time.time(), False, (), secure_desktop=True))
    assert note == SECURE_DESKTOP_TEXT
    assert "Der Kunde bestätigt gerade eine Windows-Sicherheitsabfrage" in note
    assert show(Frame(3, 64, 48, time.time(), True, tiles)) == ""
    assert view.frames_shown == 3
