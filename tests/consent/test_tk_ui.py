"""The QuickSupport window under Xvfb: clicked with xdotool, read back with mss."""

from __future__ import annotations

import os
import signal
import threading
import tkinter as tk
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import pytest

from zvkdiag.consent import tk_theme as theme
from zvkdiag.consent.audit import AuditLog
from zvkdiag.consent.model import (
    CodeIssued,
    ConsentRequest,
    Decision,
    EngineerMessage,
    FailedTry,
    Scope,
    SessionEnded,
    SessionExpiring,
    SessionStarted,
)
from zvkdiag.testing.fakes_ui import AgentLoopThread

from .conftest import HEIGHT, WIDTH, Driver

pytestmark = pytest.mark.x11

ERIKA = "Erika Muster"


def session_request(**detail: object) -> ConsentRequest:
    return ConsentRequest(Scope.SESSION, ERIKA, engineer_verified=True, detail=detail)


def ask(
    agent_loop: AgentLoopThread, d: Driver, request: ConsentRequest, timeout: float = 60.0
) -> Future[Decision]:
    return agent_loop.submit(d.ui.ask(request, timeout=timeout))


def show(agent_loop: AgentLoopThread, d: Driver, event: object) -> None:
    agent_loop.call(lambda: d.ui.show(event))  # type: ignore[arg-type]


def lower_right(d: Driver) -> float:
    """Share of indicator-orange pixels in the lower right corner of the screen."""
    return d.colour_share(d.grab(WIDTH - 320, HEIGHT - 90, 320, 90), theme.INDICATOR)


def reference_ink(d: Driver, label: tk.Label, value: str) -> object:
    """Render ``value`` exactly like ``label`` in a window of its own and return its ink."""
    probe = tk.Toplevel(d.ui.root)
    probe.overrideredirect(True)
    probe.geometry(f"+0+{HEIGHT - 120}")
    copy = tk.Label(
        probe, text=value, font=label.cget("font"), background=label.cget("background"),
        foreground=label.cget("foreground"), padx=10, pady=4,
    )  # fmt: skip
    copy.pack()
    d.pump(0.2)
    try:
        return d.ink(d.grab_widget(copy))
    finally:
        probe.destroy()


def test_id_and_password_on_screen_equal_those_given(driver: Driver, agent_loop: AgentLoopThread):
    show(agent_loop, driver, CodeIssued("123456789", "k7mp3qaz"))
    main = driver.ui.main
    driver.until(lambda: main.id_value.cget("text") == "123 456 789")
    assert main.password_value.cget("text") == "k7mp-3qaz"
    driver.pump(0.2)
    shown_id = driver.ink(driver.grab_widget(main.id_value))
    shown_pw = driver.ink(driver.grab_widget(main.password_value))
    assert shown_id.size and shown_pw.size
    assert (reference_ink(driver, main.id_value, "123 456 789") == shown_id).all()
    assert (reference_ink(driver, main.password_value, "k7mp-3qaz") == shown_pw).all()
    wrong = reference_ink(driver, main.id_value, "123 456 788")
    assert wrong.shape != shown_id.shape or not (wrong == shown_id).all()


def test_main_window_found_by_title_and_blue_band(driver: Driver):
    assert driver.window_ids("^ZVK Fernwartung$")
    band = driver.ui.root.nametowidget("band")
    assert driver.colour_share(driver.grab_widget(band), theme.BAND) > 0.5


@pytest.mark.parametrize(
    ("button", "expected"), [("allow_button", Decision.ALLOW), ("deny_button", Decision.DENY)]
)
def test_dialog_buttons_give_the_decision(
    driver: Driver, agent_loop: AgentLoopThread, button: str, expected: Decision
):
    answer = ask(agent_loop, driver, session_request())
    driver.until(lambda: driver.ui.dialog is not None)
    assert driver.window_ids("Anfrage")
    assert not answer.done()
    driver.click(getattr(driver.ui.dialog, button))
    driver.until(answer.done)
    assert answer.result() is expected
    driver.until(lambda: driver.ui.dialog is None)
    assert not driver.window_ids("Anfrage")


def test_dialog_shows_command_verbatim_and_unverified_name_in_red(
    driver: Driver, agent_loop: AgentLoopThread
):
    request = ConsentRequest(
        Scope.COMMAND, "Max Betrug", engineer_verified=False,
        detail={"argv": ["powershell", "-Command", "Get-Service 'Print Spooler'"]},
    )  # fmt: skip
    answer = ask(agent_loop, driver, request)
    driver.until(lambda: driver.ui.dialog is not None)
    window = driver.ui.dialog.window  # type: ignore[union-attr]
    texts = [w.cget("text") for w in window.winfo_children() if isinstance(w, tk.Label)]
    assert "Max Betrug möchte diesen Befehl auf Ihrem PC ausführen:" in texts
    assert "powershell -Command 'Get-Service '\"'\"'Print Spooler'\"'\"''" in texts
    engineer = window.nametowidget("line0")
    assert engineer.cget("text") == "Techniker: Max Betrug (nicht verifiziert)"
    driver.pump(0.2)
    assert driver.colour_share(driver.grab_widget(engineer), theme.WARNING) > 0.02
    headline = window.nametowidget("headline")
    assert driver.colour_share(driver.grab_widget(headline), theme.BAND) > 0.5
    driver.click(driver.ui.dialog.deny_button)  # type: ignore[union-attr]
    driver.until(answer.done)


def test_second_request_waits_its_turn(driver: Driver, agent_loop: AgentLoopThread):
    first = ask(agent_loop, driver, session_request())
    driver.until(lambda: driver.ui.dialog is not None)
    second = ask(agent_loop, driver, ConsentRequest(Scope.SCREEN_VIEW, ERIKA, True, {"monitor": 1}))
    driver.pump(0.3)
    assert len(driver.ui.queue) == 2
    headline = driver.ui.dialog.window.nametowidget("headline")  # type: ignore[union-attr]
    assert "Fernwartungssitzung" in headline.cget("text")
    driver.click(driver.ui.dialog.allow_button)  # type: ignore[union-attr]
    driver.until(first.done)
    assert not second.done()
    driver.until(lambda: driver.ui.dialog is not None)
    headline = driver.ui.dialog.window.nametowidget("headline")  # type: ignore[union-attr]
    assert headline.cget("text") == "Erika Muster möchte Ihren Bildschirm sehen."
    driver.click(driver.ui.dialog.deny_button)  # type: ignore[union-attr]
    driver.until(second.done)
    assert (first.result(), second.result()) == (Decision.ALLOW, Decision.DENY)


def test_unanswered_dialog_times_out_as_denial(driver: Driver, agent_loop: AgentLoopThread):
    answer = ask(agent_loop, driver, session_request(), timeout=0.5)
    driver.until(lambda: driver.ui.dialog is not None)
    assert "automatisch abgelehnt" in driver.ui.dialog.countdown.cget("text")  # type: ignore[union-attr]
    driver.until(answer.done)
    assert answer.result() is Decision.TIMEOUT
    assert not answer.result().allowed
    driver.until(lambda: not driver.window_ids("Anfrage"))
    assert driver.ui.dialog is None


def test_cancelled_question_closes_its_dialog(driver: Driver, agent_loop: AgentLoopThread):
    answer = ask(agent_loop, driver, session_request())
    driver.until(lambda: driver.ui.dialog is not None)
    answer.cancel()
    driver.until(lambda: driver.ui.dialog is None)
    assert len(driver.ui.queue) == 0


def test_session_end_and_close_deny_open_questions(driver: Driver, agent_loop: AgentLoopThread):
    first = ask(agent_loop, driver, session_request())
    second = ask(agent_loop, driver, session_request())
    driver.until(lambda: driver.ui.dialog is not None)
    show(agent_loop, driver, SessionEnded("engineer"))
    driver.until(lambda: first.done() and second.done())
    assert (first.result(), second.result()) == (Decision.DENY, Decision.DENY)
    third = ask(agent_loop, driver, session_request())
    driver.until(lambda: driver.ui.dialog is not None)
    driver.ui.close()
    assert third.result(timeout=5) is Decision.DENY
    assert ask(agent_loop, driver, session_request()).result(timeout=5) is Decision.DENY


def test_indicator_at_lower_right_only_while_connected(driver: Driver, agent_loop: AgentLoopThread):
    driver.pump(0.2)
    assert lower_right(driver) == 0.0
    show(agent_loop, driver, SessionStarted(ERIKA, engineer_verified=True))
    driver.until(lambda: lower_right(driver) > 0.2)
    indicator = driver.ui.indicator
    assert indicator.label.cget("text") == "Fernwartung aktiv — Erika Muster"
    assert driver.window_ids("^ZVK Fernwartung aktiv$")
    assert not indicator.unverified.winfo_ismapped()
    show(agent_loop, driver, SessionEnded("engineer"))
    driver.until(lambda: lower_right(driver) == 0.0)
    assert not driver.window_ids("^ZVK Fernwartung aktiv$")
    status = driver.ui.main.status.cget("text")
    assert status == "Der Techniker hat die Sitzung beendet."


def test_indicator_marks_unverified_engineer_in_red(driver: Driver, agent_loop: AgentLoopThread):
    show(agent_loop, driver, SessionStarted("Max Betrug", engineer_verified=False))
    driver.until(lambda: lower_right(driver) > 0.2)
    marker = driver.ui.indicator.unverified
    assert marker.cget("text") == "(nicht verifiziert)"
    assert driver.colour_share(driver.grab_widget(marker), theme.WARNING) > 0.05
    assert driver.ui.main.status.cget("foreground") == theme.WARNING


def test_indicator_is_raised_again_over_another_window(driver: Driver, agent_loop: AgentLoopThread):
    show(agent_loop, driver, SessionStarted(ERIKA, engineer_verified=True))
    driver.until(lambda: lower_right(driver) > 0.2)
    cover = tk.Toplevel(driver.ui.root, background="#00ff00")
    cover.geometry(f"{WIDTH}x300+0+{HEIGHT - 300}")
    driver.until(
        lambda: driver.colour_share(driver.grab(0, HEIGHT - 100, 100, 100), "#00ff00") > 0.9
    )
    driver.until(lambda: lower_right(driver) > 0.2)
    cover.destroy()


def test_indicator_end_button_ends_the_session(driver: Driver, agent_loop: AgentLoopThread):
    show(agent_loop, driver, SessionStarted(ERIKA, engineer_verified=True))
    driver.until(lambda: lower_right(driver) > 0.2)
    driver.click(driver.ui.indicator.end_button)
    assert driver.control.wait_for("end_session", timeout=5)
    assert driver.control.names() == ["end_session"]
    # The indicator stays until the agent reports the end: no session hides unnoticed.
    assert driver.ui.indicator.visible
    show(agent_loop, driver, SessionEnded("customer"))
    driver.until(lambda: lower_right(driver) == 0.0)


def run_until_closed(driver: Driver, act: Callable[[], None]) -> None:
    """Run the real mainloop; ``act`` fires from another thread once it is running."""
    started = threading.Event()
    driver.ui.root.after(50, started.set)

    def later() -> None:
        if started.wait(10):
            act()

    helper = threading.Thread(target=later)
    helper.start()
    driver.ui.run()
    helper.join(10)
    assert driver.ui.closed


def test_main_end_button_quits(driver: Driver):
    x, y = driver.centre(driver.ui.main.end_button)
    run_until_closed(driver, lambda: driver.click_at(x, y))
    assert driver.control.names() == ["quit"]
    assert not driver.window_ids("^ZVK Fernwartung$")


def test_closing_the_main_window_quits(driver: Driver):
    delete = driver.ui.root.protocol("WM_DELETE_WINDOW")
    driver.ui.root.tk.call(delete)  # what a window manager's close button does
    driver.pump(0.2)
    assert driver.control.names() == ["quit"]
    assert driver.ui.closed


def test_ctrl_c_quits(driver: Driver):
    before = signal.getsignal(signal.SIGINT)
    run_until_closed(driver, lambda: os.kill(os.getpid(), signal.SIGINT))
    assert driver.control.names() == ["quit"]
    assert signal.getsignal(signal.SIGINT) is before


def test_messages_and_failed_tries_are_shown(driver: Driver, agent_loop: AgentLoopThread):
    show(agent_loop, driver, SessionStarted(ERIKA, engineer_verified=True))
    show(agent_loop, driver, EngineerMessage("Ich schaue mir jetzt Ihre Festplatte an."))
    expected = "Nachricht von Erika Muster: Ich schaue mir jetzt Ihre Festplatte an."
    driver.until(lambda: expected in driver.ui.main.message_text())
    show(agent_loop, driver, FailedTry(tries_left=2))
    notice = driver.ui.main.notice
    driver.until(lambda: "noch 2 Versuche" in notice.cget("text"))
    driver.pump(0.2)
    assert driver.colour_share(driver.grab_widget(notice), theme.WARNING) > 0.005
    show(agent_loop, driver, CodeIssued("987654321", "abcdefgh", reason="failed-tries"))
    driver.until(lambda: "neues Kennwort" in notice.cget("text"))


def test_english_texts(make_ui: Callable[..., Driver], agent_loop: AgentLoopThread):
    d = make_ui("en")
    assert d.window_ids("^ZVK Remote Support$")
    assert d.ui.main.end_button.cget("text") == "End"
    answer = ask(agent_loop, d, session_request())
    d.until(lambda: d.ui.dialog is not None)
    assert d.ui.dialog.allow_button.cget("text") == "Allow"  # type: ignore[union-attr]
    assert d.window_ids("Request")
    d.click(d.ui.dialog.allow_button)  # type: ignore[union-attr]
    assert answer.result(timeout=5) is Decision.ALLOW


def test_audit_button_opens_the_log_with_its_verdict(
    make_ui: Callable[..., Driver], tmp_path: Path
):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, fsync=False) as log:
        log.record("request", scope="session", engineer=ERIKA)
        log.record("decision", scope="session", decision="allow")
    d = make_ui("de", audit_path=path)
    d.click(d.ui.main.audit_button)
    d.until(lambda: bool(d.window_ids("Protokoll$")))
    viewer = d.ui.root.nametowidget("audit_viewer")
    assert viewer.nametowidget("verdict").cget("text") == "Protokoll unverändert (2 Einträge)."
    assert "decision" in viewer.nametowidget("body").get("1.0", "end")


def test_idle_question_offers_continue_and_end(driver: Driver, agent_loop: AgentLoopThread):
    request = ConsentRequest(
        Scope.CONTINUE, ERIKA, True, {"idle_minutes": 15, "answer_seconds": 60}
    )
    answer = ask(agent_loop, driver, request)
    driver.until(lambda: driver.ui.dialog is not None)
    dialog = driver.ui.dialog
    assert dialog is not None
    assert dialog.allow_button.cget("text") == "Fortsetzen"
    assert dialog.deny_button.cget("text") == "Beenden"
    driver.click(dialog.allow_button)
    driver.until(answer.done)
    assert answer.result() is Decision.ALLOW


def test_maximum_length_notice_is_shown(driver: Driver, agent_loop: AgentLoopThread):
    show(agent_loop, driver, SessionStarted(ERIKA, engineer_verified=True))
    show(agent_loop, driver, SessionExpiring(minutes_left=5))
    driver.until(lambda: "endet in 5 Minuten" in driver.ui.main.notice.cget("text"))
    assert "endet in 5 Minuten" in driver.ui.main.message_text()
