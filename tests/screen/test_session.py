"""The screen view through the real relay, agent and SSH, on a real X screen."""

from __future__ import annotations

import asyncio
import threading
import time

import mss
import numpy as np
import pytest

import zvkdiag
from zvkdiag._errors import ZvkdiagError
from zvkdiag.consent.model import Scope
from zvkdiag.screen.frames import MAX_FRAME_BYTES, VERSION_COMPACT
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread

from .conftest import Scene


def _grab(display: str) -> np.ndarray:
    with mss.MSS(display=display, with_cursor=True) as sct:
        shot = sct.grab(sct.monitors[0])
        return np.asarray(shot)[..., :3][..., ::-1]  # BGRA -> RGB


@pytest.fixture
def on_screen(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> Scene:
    monkeypatch.setenv("DISPLAY", scene.display)  # the in-process agent captures this screen
    return scene


def test_screenshot_is_pixel_exact_and_asks_once(on_screen: Scene, relay: RelayThread) -> None:
    ui = AutoConsent()
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        assert s.monitors()[0]["width"] == 640
        first = s.screenshot()
        on_screen.say("after the first picture")
        second = s.screenshot()
    assert np.array_equal(np.asarray(second.convert("RGB")), _grab(on_screen.display))
    assert np.asarray(first).shape == (480, 640, 3) or first.size == (640, 480)
    assert [q.scope for q in ui.requests].count(Scope.SCREEN_VIEW) == 1  # standing consent


def test_frames_reassemble_the_screen(on_screen: Scene, relay: RelayThread) -> None:
    with (
        AgentThread(relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        heads = []  # bytes of each frame outside its tiles' payloads

        async def watch() -> list[int]:
            sizes = []
            stream = s.frames()
            async for got in stream:
                sizes.append(got.wire_bytes)
                heads.append(got.wire_bytes - got.frame.payload_bytes)
                if len(sizes) == 1:
                    on_screen.say("typed while watching")  # the next frame carries the change
                if len(sizes) == 2:
                    break
            await stream.aclose()  # type: ignore[attr-defined]
            return sizes

        first, change = asyncio.run(asyncio.wait_for(watch(), 30))
        assert change < first  # only the changed tiles travel
        assert heads[1] < 26  # the compact header (v2): less than v1's fixed part alone
        final = s.screenshot()
    assert np.array_equal(np.asarray(final.convert("RGB")), _grab(on_screen.display))


def test_screen_denied(on_screen: Scene, relay: RelayThread) -> None:
    with (
        AgentThread(AutoConsent(deny={"screen.view"}), relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        with pytest.raises(zvkdiag.ConsentDenied):
            s.screenshot()


def test_revoking_screen_view_stops_the_stream(on_screen: Scene, relay: RelayThread) -> None:
    ui = AutoConsent()
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):

        async def watch() -> float:
            revoked_at = 0.0
            async for _ in s.frames():
                if not revoked_at:
                    a.agent.revoke(Scope.SCREEN_VIEW)
                    revoked_at = time.monotonic()
                on_screen.say(f"still there {time.monotonic()}")
            return time.monotonic() - revoked_at

        asyncio.run(asyncio.wait_for(watch(), 10))  # the stream ends: the loop returns
        assert not a.agent.session.streams if a.agent.session else True
        with pytest.raises(zvkdiag.ConsentDenied):  # asking again needs a new yes
            ui.deny.add("screen.view")
            s.screenshot()


def test_recording_relay_sees_no_screen_pixels(on_screen: Scene, relay: RelayThread) -> None:
    from zvkdiag.testing.proxies import TcpProxy

    raw = np.ascontiguousarray(_grab(on_screen.display))
    with AgentThread(relay=relay.address) as a, TcpProxy(relay.address) as spy:
        with zvkdiag.connect(a.session_id, a.password, relay=spy.address, engineer="E") as s:
            picture = np.asarray(s.screenshot().convert("RGB"))
        seen = spy.seen()
    assert np.array_equal(picture, raw)  # the whole picture crossed the relay ...
    assert len(seen) > 10_000
    assert b"\x28\xb5\x2f\xfd" not in seen  # ... but no zstd frame in the clear
    rows = [raw[y].tobytes() for y in range(0, raw.shape[0], 37) if raw[y].std() > 0]
    assert rows  # the Tk scene has detail to look for
    for row in rows:
        assert row[:48] not in seen and row[::-1][:48] not in seen  # nor raw pixel runs


def test_closing_the_session_ends_frames_watched_from_another_thread(
    on_screen: Scene, relay: RelayThread
) -> None:
    """The watcher's ``async for`` ends quietly; its cleanup does not touch the closed loop."""
    seen: list[int] = []
    failures: list[BaseException] = []
    first = threading.Event()

    async def watch(s: zvkdiag.Session) -> None:
        async for got in s.frames():
            seen.append(got.frame.seq)
            first.set()

    def run(s: zvkdiag.Session) -> None:
        try:
            asyncio.run(watch(s))
        except BaseException as exc:  # the test reports whatever escaped
            failures.append(exc)

    with (
        AgentThread(relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        watcher = threading.Thread(target=run, args=(s,), daemon=True)
        watcher.start()
        assert first.wait(30)
    watcher.join(30)
    assert not watcher.is_alive()
    assert failures == []
    assert seen


def test_the_frame_version_is_the_one_the_viewer_asks_for(
    on_screen: Scene, relay: RelayThread
) -> None:
    with (
        AgentThread(relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):

        async def first_frame(**params: int) -> bytes:
            chan = await s.open_op("screen", monitor=0, **params)
            try:
                return await chan.read(MAX_FRAME_BYTES)
            finally:
                chan.close()

        assert s.call(first_frame())[:2] == b"ZS"  # a viewer from before v2 asks for nothing
        assert s.call(first_frame(frame_version=VERSION_COMPACT))[:1] == bytes((VERSION_COMPACT,))
        with pytest.raises(ZvkdiagError, match="frame version 9"):
            s.call(first_frame(frame_version=9))
