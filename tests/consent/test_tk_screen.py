"""The indicator's screen-sharing row: shown while the engineer sees the screen, stops it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zvkdiag.consent.model import Scope, ScreenShared, SessionEnded, SessionStarted
from zvkdiag.testing.fakes_ui import AgentLoopThread

from .conftest import HEIGHT, WIDTH, Driver

pytestmark = pytest.mark.x11

ERIKA = "Erika Muster"


def show(agent_loop: AgentLoopThread, d: Driver, event: object) -> None:
    agent_loop.call(lambda: d.ui.show(event))  # type: ignore[arg-type]


def connected(d: Driver, agent_loop: AgentLoopThread) -> None:
    show(agent_loop, d, SessionStarted(ERIKA, engineer_verified=True))
    d.until(lambda: d.ui.indicator.visible and d.ui.indicator.end_button.winfo_viewable())


def stop_button_shown(d: Driver) -> bool:
    return bool(d.ui.indicator.stop_screen_button.winfo_viewable())


def bottom_right(d: Driver) -> tuple[int, int]:
    """The indicator window's lower right corner on the screen."""
    window = d.ui.indicator.window
    d.ui.root.update_idletasks()
    return window.winfo_rootx() + window.winfo_width(), window.winfo_rooty() + window.winfo_height()


def test_stop_button_while_shared_calls_revoke(driver: Driver, agent_loop: AgentLoopThread) -> None:
    connected(driver, agent_loop)
    assert not stop_button_shown(driver)
    show(agent_loop, driver, ScreenShared(True))
    driver.until(lambda: stop_button_shown(driver))
    indicator = driver.ui.indicator
    shown = indicator.screen_row.nametowidget("shown")
    assert shown.cget("text") == "Bildschirm wird angezeigt"
    assert indicator.stop_screen_button.cget("text") == "Bildschirm-Freigabe beenden"
    driver.until(lambda: bottom_right(driver)[1] > HEIGHT - 40)  # still in the lower right
    assert bottom_right(driver)[0] > WIDTH - 40
    driver.click(indicator.stop_screen_button)
    assert driver.control.wait_for("revoke", timeout=5)
    assert driver.control.calls == [("revoke", Scope.SCREEN_VIEW)]
    # The row stays until the agent reports the view has really stopped.
    assert stop_button_shown(driver)
    show(agent_loop, driver, ScreenShared(False))
    driver.until(lambda: not stop_button_shown(driver))
    assert indicator.visible, "only the screen view ends, not the session"
    assert driver.control.names() == ["revoke"]


def test_session_end_hides_the_row_and_a_new_session_starts_without(
    driver: Driver, agent_loop: AgentLoopThread
) -> None:
    connected(driver, agent_loop)
    show(agent_loop, driver, ScreenShared(True))
    driver.until(lambda: stop_button_shown(driver))
    show(agent_loop, driver, SessionEnded("engineer"))
    driver.until(lambda: not driver.ui.indicator.visible)
    connected(driver, agent_loop)
    driver.pump(0.2)
    assert not stop_button_shown(driver)
    assert driver.control.calls == []


def test_english_screen_texts(make_ui: Callable[..., Driver], agent_loop: AgentLoopThread) -> None:
    d = make_ui("en")
    connected(d, agent_loop)
    show(agent_loop, d, ScreenShared(True))
    d.until(lambda: stop_button_shown(d))
    assert d.ui.indicator.stop_screen_button.cget("text") == "Stop screen sharing"
    shown = d.ui.indicator.screen_row.nametowidget("shown")
    assert shown.cget("text") == "Your screen is being shown"
