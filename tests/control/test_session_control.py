"""Remote control through the real relay, agent and SSH onto a real X screen."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import zvkdiag
from zvkdiag.consent.model import ControlActive, Scope
from zvkdiag.control.events import Button, Key, Move
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.procs import end
from zvkdiag.testing.xinput import CustomerDevice

from .conftest import GERMAN, Target, held_down


def _connect(a: AgentThread, relay: RelayThread) -> zvkdiag.Session:
    return zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="Erika Muster")


def _wait_released(display: str, timeout: float = 5.0) -> tuple[list[int], int]:
    deadline = time.monotonic() + timeout
    state = held_down(display)
    while state != ([], 0) and time.monotonic() < deadline:
        time.sleep(0.02)
        state = held_down(display)
    return state


def test_click_and_type_after_consent(target: Target, relay: RelayThread) -> None:
    ui = AutoConsent()
    with AgentThread(ui, relay=relay.address) as a, _connect(a, relay) as s:
        with s.control() as c:
            assert (c.width, c.height) == (800, 600)
            c.click(100, 100)
            c.type_text(GERMAN)
            c.key("Return")
            c.key("at")
        assert target.wait_text(GERMAN + "\n@") == GERMAN + "\n@"
        with s.control() as c:  # standing consent: asked once per session
            c.key("ctrl+a")
        audit = s.audit()
    assert [q.scope for q in ui.requests].count(Scope.SCREEN_CONTROL) == 1
    assert ControlActive(True) in ui.events and ControlActive(False) in ui.events
    ends = [r for r in audit if r.get("kind") == "screen.control.end"]
    assert ends and ends[0]["text_chars"] == len(GERMAN) and ends[0]["clicks"] == 1
    dumped = json.dumps(audit, ensure_ascii=False)
    assert "Grüße" not in dumped and "€{[" not in dumped  # never which keys were typed
    assert held_down(target.display) == ([], 0)


def test_denied_control_injects_nothing(target: Target, relay: RelayThread) -> None:
    ui = AutoConsent(deny={"screen.control"})
    with AgentThread(ui, relay=relay.address) as a, _connect(a, relay) as s:
        with pytest.raises(zvkdiag.ConsentDenied) as caught:
            s.control()
        assert caught.value.scope == "screen.control"
    assert target.text() == ""


def test_bad_input_is_refused_before_sending(target: Target, relay: RelayThread) -> None:
    with AgentThread(relay=relay.address) as a, _connect(a, relay) as s, s.control() as c:
        for call in (
            lambda: c.click(800, 10),
            lambda: c.move(-1, 0),
            lambda: c.key("ctrl+nosuchkey"),
            lambda: c.type_text("x" * 70_000),
            lambda: c.type_text("bell\x07"),
            lambda: c.click(1, 1, button=9),
            lambda: c.scroll(1000),
        ):
            with pytest.raises(ValueError):
                call()
        c.click(200, 100)  # into the field: nothing of the refused calls reached the screen
        c.type_text("ok")
    assert target.wait_text("ok") == "ok"


def test_revoking_mid_drag_releases_the_button(target: Target, relay: RelayThread) -> None:
    with AgentThread(relay=relay.address) as a, _connect(a, relay) as s:
        c = s.control()
        s.call(c.asend([Move(300, 200), Button(1, True), Key("ShiftLeft", True)]))
        assert _held_soon(target.display)
        a.agent.revoke(Scope.SCREEN_CONTROL)  # the indicator's "Steuerung beenden"
        assert _wait_released(target.display) == ([], 0)
        with pytest.raises(zvkdiag.ConsentDenied):
            deadline = time.monotonic() + 30  # the end reaches the engineer's side within moments
            while time.monotonic() < deadline:
                c.move(10, 10)
                time.sleep(0.02)


def _held_soon(display: str) -> bool:
    deadline = time.monotonic() + 5
    while held_down(display) == ([], 0) and time.monotonic() < deadline:
        time.sleep(0.02)
    return held_down(display) != ([], 0)


ENGINEER = """
import sys, time, zvkdiag
from zvkdiag.control.events import Button, Key, Move
s = zvkdiag.connect(sys.argv[1], sys.argv[2], relay=sys.argv[3], engineer="E")
c = s.control()
s.call(c.asend([Move(50, 50), Button(1, True), Key("ControlLeft", True)]))
print("holding", flush=True)
time.sleep(60)
"""


def test_killed_engineer_leaves_nothing_held(target: Target, relay: RelayThread) -> None:
    with AgentThread(relay=relay.address) as a:
        proc = subprocess.Popen(
            [sys.executable, "-c", ENGINEER, a.session_id, a.password, relay.address],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "holding"
            assert _held_soon(target.display)
            proc.send_signal(19)  # SIGSTOP: the engineer freezes; the connection stays up
            assert _wait_released(target.display) == ([], 0)  # the heartbeat is missed
        finally:
            end(proc)


def test_customer_input_pauses_injection(target: Target, relay: RelayThread) -> None:
    ui = AutoConsent()
    with (
        AgentThread(ui, relay=relay.address) as a,
        _connect(a, relay) as s,
        s.control() as c,
        CustomerDevice(target.display) as hand,
    ):
        hand.move(400, 400)  # the customer's own mouse, a device that is not zvkdiag's
        assert ui.wait_for(lambda: ControlActive(True, paused=True) in ui.events)
        c.type_text("dropped")
        deadline = time.monotonic() + 5
        while not c.paused and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.paused
        assert ui.wait_for(lambda: ui.events[-1] == ControlActive(True, paused=False))
        c.type_text("after")
    assert target.wait_text("after") == "after"


def test_a_move_racing_the_customers_revoke_is_consent_denied(
    target: Target, relay: RelayThread
) -> None:
    """The agent's close can reach the channel a loop pass before the status reader sees it."""

    async def move_until_refused(c: zvkdiag.Control) -> None:
        while True:  # sleep(0): each pass runs ahead of the reader's wake-up
            await c.asend([Move(10, 10)])
            await asyncio.sleep(0)

    with AgentThread(relay=relay.address) as a, _connect(a, relay) as s:
        c = s.control()
        s.call(c.asend([Move(300, 200), Button(1, True)]))
        assert _held_soon(target.display)
        with ThreadPoolExecutor(1) as pool:
            mover = pool.submit(s.call, move_until_refused(c), 30)
            time.sleep(0.2)  # moving already
            a.agent.revoke(Scope.SCREEN_CONTROL)
            with pytest.raises(zvkdiag.ConsentDenied):
                mover.result(timeout=30)
        assert _wait_released(target.display) == ([], 0)
