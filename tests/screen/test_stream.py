"""The streamer under flow control, with a synthetic screen (no X needed)."""

from __future__ import annotations

import asyncio
import threading

from zvkdiag.screen.flow import FlowControl
from zvkdiag.screen.frames import Control, ControlKind, decode_frame, encode_control
from zvkdiag.screen.receiver import ScreenReceiver
from zvkdiag.screen.stream import ScreenStreamer, serve_screen

from .scenes import ChangingScreen, MemoryPipe, until


def streamer_for(screen: ChangingScreen, flow: FlowControl) -> ScreenStreamer:
    return ScreenStreamer(capture=lambda: screen, flow=flow, max_fps=1000)


async def collect(streamer: ScreenStreamer, into: list[bytes], limit: int) -> None:
    async for blob in streamer.frames():
        into.append(blob)
        if len(into) >= limit:
            break


def test_without_acks_capture_stops_at_two_frames() -> None:
    async def main() -> None:
        screen = ChangingScreen()
        streamer = streamer_for(screen, FlowControl(ack_timeout=3600))
        sent: list[bytes] = []
        task = asyncio.create_task(collect(streamer, sent, 100))
        await until(lambda: len(sent) == 2)
        await asyncio.sleep(0.2)  # room to misbehave
        assert len(sent) == 2 and screen.grabs == 2
        assert streamer.flow.in_flight == 2
        streamer.on_ack(2)
        await until(lambda: len(sent) == 4)
        streamer.stop()
        await task
        assert screen.closed

    asyncio.run(main())


def test_ack_timeout_resends_a_keyframe_instead_of_deadlocking() -> None:
    async def main() -> None:
        screen = ChangingScreen()
        streamer = streamer_for(screen, FlowControl(ack_timeout=0.02, max_timeout=0.02))
        sent: list[bytes] = []
        await collect(streamer, sent, 6)  # nobody ever acks
        keys = [decode_frame(b).keyframe for b in sent]
        assert keys == [True, False, True, False, True, False]
        assert [decode_frame(b).seq for b in sent] == [1, 2, 3, 4, 5, 6]
        assert streamer.stats.keyframes == 3

    asyncio.run(main())


def test_stop_from_another_thread_ends_the_stream_at_once() -> None:
    async def main() -> None:
        screen = ChangingScreen()
        streamer = streamer_for(screen, FlowControl())
        sent: list[bytes] = []

        async def consume() -> None:
            async for blob in streamer.frames():
                sent.append(blob)
                streamer.on_ack(decode_frame(blob).seq)

        task = asyncio.create_task(consume())
        await until(lambda: len(sent) >= 3)
        threading.Thread(target=streamer.stop).start()
        await asyncio.wait_for(task, 5)
        grabs = screen.grabs
        await asyncio.sleep(0.05)
        assert screen.grabs == grabs and screen.closed

    asyncio.run(main())


def test_pause_stops_capture_and_resume_continues() -> None:
    async def main() -> None:
        screen = ChangingScreen()
        streamer = streamer_for(screen, FlowControl())
        sent: list[bytes] = []

        async def consume() -> None:
            async for blob in streamer.frames():
                sent.append(blob)
                streamer.on_ack(decode_frame(blob).seq)

        task = asyncio.create_task(consume())
        await until(lambda: len(sent) >= 2)
        streamer.on_control(encode_control(Control(ControlKind.PAUSE)))
        grabs = screen.grabs
        await asyncio.sleep(0.3)  # at 1000 fps, a running capture would grab ~300 times
        assert screen.grabs <= grabs + 1  # a grab already under way may finish
        streamer.on_control(encode_control(Control(ControlKind.RESUME)))
        await until(lambda: screen.grabs > grabs + 2)
        streamer.stop()
        await task

    asyncio.run(main())


def test_receiver_acks_drive_the_streamer_end_to_end() -> None:
    async def main() -> None:
        screen = ChangingScreen()
        streamer = streamer_for(screen, FlowControl(ack_timeout=3600))
        down, up = MemoryPipe(), MemoryPipe()
        server = asyncio.create_task(serve_screen(streamer, read=up.read, write=down.write))
        receiver = ScreenReceiver()
        seqs: list[int] = []
        async for got in receiver.frames(down.read, up.write):
            seqs.append(got.frame.seq)
            if len(seqs) == 30:
                break
        up.close()  # the viewer goes away: the customer side ends
        await asyncio.wait_for(server, 5)
        assert seqs == list(range(1, 31))
        assert up.messages <= 30  # at most one ack per frame (often merged)
        assert screen.closed and streamer.flow.timeouts == 0

    asyncio.run(main())


def test_refresh_control_brings_a_keyframe() -> None:
    async def main() -> None:
        screen = ChangingScreen()
        streamer = streamer_for(screen, FlowControl(ack_timeout=3600))
        keys: list[bool] = []
        async for blob in streamer.frames():
            frame = decode_frame(blob)
            keys.append(frame.keyframe)
            streamer.on_ack(frame.seq)
            if frame.seq == 3:
                streamer.on_control(encode_control(Control(ControlKind.REFRESH)))
            if frame.seq == 5:
                break
        assert keys == [True, False, False, True, False]

    asyncio.run(main())


def test_the_pointer_poll_slows_down_only_on_an_idle_screen() -> None:
    from zvkdiag.screen.stream import IDLE_AFTER, IDLE_POLL, poll_period

    assert poll_period(1 / 60, 0.0) == 1 / 60
    assert poll_period(1 / 60, IDLE_AFTER - 0.01) == 1 / 60
    assert poll_period(1 / 60, IDLE_AFTER) == IDLE_POLL
    assert poll_period(1.0, IDLE_AFTER * 10) == 1.0  # a slower poll is never sped up
