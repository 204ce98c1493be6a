"""The customer's real Tk program under Xvfb with a real engineer session, driven as a person would.

Each test starts Xvfb, the real relay and ``python -m zvkdiag quicksupport
--ui tk`` as a child process; the engineer connects with ``zvkdiag.connect``
from a thread.  The test clicks with xdotool, reads the screen with mss and
compares texts against a rendering of its own (see ``reference.py``).
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Final

import pytest

import zvkdiag
from zvkdiag.consent.messages import text

from .conftest import ENGINEER, EXIT_WAIT, Customer, Engineer, StartCustomer, audit_verify
from .driver import (
    DIALOG,
    INDICATOR,
    MAIN,
    WAIT,
    Pixels,
    Screen,
    ink,
    same_ink,
    until,
    white_boxes,
)
from .reference import Ink, Reference

pytestmark = pytest.mark.x11

ALLOW, DENY = 0, 1
"""Index of "Erlauben" and "Ablehnen" in a consent dialog's button row."""
AUDIT, END = 0, 1
"""Index of "Protokoll öffnen" and "Beenden" in the main window's button row."""
ANSWER: Final = 20.0
"""Upper bound for the engineer's side to see an answer; generous, the machine is shared."""
CLOSED: Final = 5.0
"""Upper bound for the engineer to notice an ended session (the issue promises 1 s)."""
SAID: Final = "Ich schaue mir jetzt Ihre Festplatte an."


def answer(screen: Screen, button: int) -> None:
    """Click "Erlauben" or "Ablehnen" in the consent dialog; wait until it is gone."""
    screen.press(DIALOG, button, 2)
    screen.gone(DIALOG)


def open_session(screen: Screen, customer: Customer, engineer: Engineer) -> zvkdiag.Session:
    """The engineer connects, the customer clicks "Erlauben"."""
    pending = engineer.connect(customer.session_id, customer.password)
    answer(screen, ALLOW)
    return pending.result(ANSWER)


def shown_codes(screen: Screen) -> tuple[Ink, Ink]:
    """Ink of the ID and the password as the main window shows them now."""
    boxes = white_boxes(screen.grab_window(screen.window(MAIN)))
    assert len(boxes) == 3, "expected ID, password and message area"
    return ink(boxes[0]), ink(boxes[1])


def shows_codes(screen: Screen, want: Sequence[Ink], what: str) -> None:
    """Wait until the window shows the ID and password whose ink is ``want``."""

    def equal() -> bool:
        got = shown_codes(screen)
        return same_ink(got[0], want[0]) and same_ink(got[1], want[1])

    until(equal, WAIT, f"the window shows {what}")


def assert_closed_for_engineer(session: zvkdiag.Session) -> None:
    """The engineer's session notices the end by itself; the next call says so."""
    until(lambda: session.closed, CLOSED, "the engineer's session to close")
    with pytest.raises(zvkdiag.SessionClosed):
        session.run(["true"])


def records(customer: Customer) -> list[dict[str, object]]:
    lines = customer.audit_path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def decisions(customer: Customer, scope: str) -> list[object]:
    return [
        r["decision"] for r in records(customer) if r["kind"] == "decision" and r["scope"] == scope
    ]


# -- what the customer sees --------------------------------------------------------------


def test_id_and_password_on_screen_equal_stdout(
    screen: Screen, reference: Reference, start_customer: StartCustomer
) -> None:
    customer = start_customer()
    last = customer.session_id[-1]
    wrong = customer.session_id[:-1] + ("1" if last != "1" else "2")
    id_ink, password_ink, wrong_ink = reference.codes(customer.session_id, customer.password, wrong)
    shows_codes(screen, (id_ink, password_ink), f"{customer.session_id} / {customer.password}")
    assert not same_ink(shown_codes(screen)[0], wrong_ink)


def test_starting_again_gives_a_new_password(screen: Screen, start_customer: StartCustomer) -> None:
    first = start_customer()
    assert first.interrupt() == 0
    screen.gone(MAIN)
    second = start_customer()
    assert second.password != first.password


# -- consent through the dialog ------------------------------------------------------------


def test_allow_session_and_command_indicator_while_connected(
    screen: Screen, start_customer: StartCustomer, engineer: Engineer
) -> None:
    customer = start_customer()
    screen.window(MAIN)
    assert screen.lower_right() == 0.0
    session = open_session(screen, customer, engineer)
    until(lambda: screen.lower_right() > 0.2, WAIT, "the indicator at the lower right")
    assert screen.window(INDICATOR).top > screen.server.height // 2
    result = engineer.call(session.run, ["echo", "x"])
    answer(screen, ALLOW)
    assert result.result(ANSWER).stdout == "x\n"
    session.close()
    until(lambda: screen.lower_right() == 0.0, WAIT, "the indicator gone")
    assert not screen.windows(INDICATOR)
    assert customer.next_password() != customer.password


def test_deny_session_gives_consent_denied(
    screen: Screen, start_customer: StartCustomer, engineer: Engineer
) -> None:
    customer = start_customer()
    pending = engineer.connect(customer.session_id, customer.password)
    main, dialog = screen.window(MAIN), screen.window(DIALOG)
    overlap_x = main.left < dialog.left + dialog.width and dialog.left < main.left + main.width
    overlap_y = main.top < dialog.top + dialog.height and dialog.top < main.top + main.height
    assert not (overlap_x and overlap_y), "the question covers the ID and password"
    answer(screen, DENY)
    assert isinstance(pending.exception(ANSWER), zvkdiag.ConsentDenied)
    assert screen.lower_right() == 0.0
    assert decisions(customer, "session") == ["deny"]


def test_deny_command_keeps_session_usable_and_all_is_logged(
    screen: Screen, start_customer: StartCustomer, engineer: Engineer
) -> None:
    customer = start_customer()
    session = open_session(screen, customer, engineer)
    refused = engineer.call(session.run, ["echo", "verboten"])
    answer(screen, DENY)
    assert isinstance(refused.exception(ANSWER), zvkdiag.ConsentDenied)
    assert not session.closed
    allowed = engineer.call(session.run, ["echo", "erlaubt"])
    answer(screen, ALLOW)
    assert allowed.result(ANSWER).stdout == "erlaubt\n"
    assert decisions(customer, "session") == ["allow"]
    assert decisions(customer, "command") == ["deny", "allow"]
    asked = [r["detail"] for r in records(customer) if r["kind"] == "request"]
    assert {"argv": ["echo", "verboten"]} in asked
    count = len(records(customer))
    assert audit_verify(customer.audit_path).strip() == f"OK: {count} records"


def test_unanswered_dialog_times_out_as_denial(
    screen: Screen, start_customer: StartCustomer, engineer: Engineer
) -> None:
    customer = start_customer("--consent-timeout", "2")
    pending = engineer.connect(customer.session_id, customer.password)
    screen.window(DIALOG)
    error = pending.exception(ANSWER)
    assert isinstance(error, zvkdiag.ConsentDenied)
    assert "in time" in str(error)
    screen.gone(DIALOG)
    assert decisions(customer, "session") == ["timeout"]


# -- messages --------------------------------------------------------------------------------


def test_engineer_message_shows_in_the_window_and_the_log(
    screen: Screen, reference: Reference, start_customer: StartCustomer, engineer: Engineer
) -> None:
    customer = start_customer()
    session = open_session(screen, customer, engineer)
    main = screen.window(MAIN)

    def message_area() -> Pixels:
        return white_boxes(screen.grab_window(main))[2]

    until(lambda: ink(message_area()).size > 0, WAIT, "the session-started line")
    before = message_area()
    session.say(SAID)
    line = text("message.from", "de", engineer=ENGINEER, text=SAID)
    want = reference.message(line, before.shape[1])

    def shows_line() -> bool:
        after = message_area()
        if after.shape != before.shape:
            return False
        changed = (after != before).any(axis=(1, 2))
        return bool(changed.any()) and same_ink(ink(after[changed]), want)

    until(shows_line, WAIT, f"the window shows {line!r}")
    said = [r for r in records(customer) if r["kind"] == "message"]
    assert [r["text"] for r in said] == [SAID]


# -- ending ----------------------------------------------------------------------------------


def test_indicator_end_closes_session_and_replaces_password(
    screen: Screen, reference: Reference, start_customer: StartCustomer, engineer: Engineer
) -> None:
    customer = start_customer()
    session = open_session(screen, customer, engineer)
    screen.press(INDICATOR, 0, 1)
    assert_closed_for_engineer(session)
    assert customer.proc.proc.poll() is None, "only the session ends, not the program"
    new = customer.next_password()
    assert new != customer.password
    until(lambda: screen.lower_right() == 0.0, WAIT, "the indicator gone")
    shows_codes(screen, reference.codes(customer.session_id, new), f"the new password {new}")
    stale = engineer.connect(customer.session_id, customer.password)
    assert isinstance(stale.exception(ANSWER), zvkdiag.AuthenticationFailed)


def _main_end_button(screen: Screen, customer: Customer) -> None:
    screen.press(MAIN, END, 2)


def _close_main_window(screen: Screen, customer: Customer) -> None:
    screen.send_delete(screen.window(MAIN))


def _ctrl_c(screen: Screen, customer: Customer) -> None:
    customer.proc.proc.send_signal(signal.SIGINT)


@pytest.mark.parametrize(
    "quit_",
    [_main_end_button, _close_main_window, _ctrl_c],
    ids=["main-window-end", "close-main-window", "ctrl-c"],
)
def test_quitting_ends_the_session(
    screen: Screen,
    start_customer: StartCustomer,
    engineer: Engineer,
    quit_: Callable[[Screen, Customer], None],
) -> None:
    customer = start_customer()
    session = open_session(screen, customer, engineer)
    quit_(screen, customer)
    assert customer.proc.proc.wait(EXIT_WAIT) == 0
    customer.proc.expect(re.escape(text("quit", "de")))
    assert_closed_for_engineer(session)
    assert not screen.windows(MAIN) and screen.lower_right() == 0.0
    stale: Future[zvkdiag.Session] = engineer.connect(customer.session_id, customer.password)
    assert isinstance(stale.exception(ANSWER), zvkdiag.PeerNotFound | zvkdiag.AuthenticationFailed)


def test_ctrl_c_while_a_question_is_open(
    screen: Screen, start_customer: StartCustomer, engineer: Engineer
) -> None:
    customer = start_customer()
    pending = engineer.connect(customer.session_id, customer.password)
    screen.window(DIALOG)
    assert customer.interrupt() == 0
    error = pending.exception(ANSWER)
    assert isinstance(error, zvkdiag.ConsentDenied | zvkdiag.SessionClosed)
    assert not screen.windows(DIALOG)
