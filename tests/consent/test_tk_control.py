"""The customer's view of remote control: indicator row, orange frame, pointer marker, clipboard."""

from __future__ import annotations

import asyncio
import subprocess

import numpy as np
import pytest
from Xlib import display as xdisplay

from zvkdiag.consent import tk_theme as theme
from zvkdiag.consent.model import ControlActive, PointerShown, Scope, SessionEnded
from zvkdiag.consent.tk_overlay import toplevel_xids
from zvkdiag.testing.fakes_ui import AgentLoopThread

from .conftest import HEIGHT, WIDTH, Driver
from .test_tk_screen import connected, show

pytestmark = pytest.mark.x11

ORANGE = tuple(int(theme.INDICATOR[i : i + 2], 16) for i in (1, 3, 5))


def frame_pixels(d: Driver) -> list[tuple[int, ...]]:
    """Midpoints of the four screen edges, one pixel inside."""
    d.pump(0.1)
    points = [(WIDTH // 2, 1), (WIDTH // 2, HEIGHT - 2), (1, HEIGHT // 3), (WIDTH - 2, HEIGHT // 3)]
    return [tuple(int(v) for v in d.grab(x, y, 1, 1)[0, 0]) for x, y in points]


def test_control_row_frame_and_stop(driver: Driver, agent_loop: AgentLoopThread) -> None:
    connected(driver, agent_loop)
    assert ORANGE not in frame_pixels(driver)
    show(agent_loop, driver, ControlActive(True))
    indicator = driver.ui.indicator
    driver.until(lambda: bool(indicator.stop_control_button.winfo_viewable()))
    assert indicator.control_label.cget("text") == "Steuerung aktiv"
    assert indicator.stop_control_button.cget("text") == "Steuerung beenden"
    driver.until(lambda: frame_pixels(driver) == [ORANGE] * 4)
    show(agent_loop, driver, ControlActive(True, paused=True))
    driver.until(lambda: "Sie bedienen selbst" in indicator.control_label.cget("text"))
    driver.click(indicator.stop_control_button)
    assert driver.control.wait_for("revoke", timeout=5)
    assert driver.control.calls == [("revoke", Scope.SCREEN_CONTROL)]
    show(agent_loop, driver, ControlActive(False))
    driver.until(lambda: ORANGE not in frame_pixels(driver))
    assert indicator.visible, "only control ends, not the session"


def test_frame_lets_clicks_through(driver: Driver, agent_loop: AgentLoopThread) -> None:
    connected(driver, agent_loop)
    show(agent_loop, driver, ControlActive(True))
    driver.until(lambda: frame_pixels(driver) == [ORANGE] * 4)
    d = xdisplay.Display(driver.screen.display)
    try:
        frames = {toplevel_xids(d, w.winfo_id())[-1] for w in driver.ui.frame.windows}
        assert len(frames) == 4
        for x, y in ((WIDTH // 2, 2), (2, HEIGHT // 2), (WIDTH - 3, HEIGHT // 2)):
            subprocess.run(
                ["xdotool", "mousemove", "--sync", str(x), str(y)],
                env=driver.screen.env(),
                check=True,
            )
            under = d.screen().root.query_pointer().child
            assert under == 0 or under.id not in frames, "the frame would catch this click"
    finally:
        d.close()


def test_session_end_removes_frame_and_marker(driver: Driver, agent_loop: AgentLoopThread) -> None:
    connected(driver, agent_loop)
    show(agent_loop, driver, ControlActive(True))
    show(agent_loop, driver, PointerShown((500, 400)))
    driver.until(lambda: frame_pixels(driver) == [ORANGE] * 4)
    driver.until(lambda: bool(driver.ui.marker.window.winfo_viewable()))
    ring = driver.grab(500 - 36, 400 - 36, 72, 72)
    red = tuple(int(theme.WARNING[i : i + 2], 16) for i in (1, 3, 5))
    assert np.any(np.all(ring == red, axis=-1)), "the marker is drawn where the engineer points"
    show(agent_loop, driver, SessionEnded("engineer"))
    driver.until(lambda: ORANGE not in frame_pixels(driver))
    driver.until(lambda: not driver.ui.marker.window.winfo_viewable())


def test_clipboard_round_trip(driver: Driver, agent_loop: AgentLoopThread) -> None:
    clipboard = driver.ui.clipboard

    async def both() -> str:
        await clipboard.set_text("Grüße € – 64 KiB max")
        return await clipboard.get_text()

    future = asyncio.run_coroutine_threadsafe(both(), agent_loop.loop)
    driver.until(future.done)
    assert future.result() == "Grüße € – 64 KiB max"
