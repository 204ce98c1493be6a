"""Repeated failed tries from one address are slowed down exponentially by the relay."""

from __future__ import annotations

import time

import pytest

import zvkdiag
from zvkdiag.relay.state import BACKOFF_MAX, FailureBackoff
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def test_backoff_schedule_is_exponential_capped_and_forgets() -> None:
    clock = Clock()
    b = FailureBackoff(clock=clock)
    assert b.delay("a") == 0
    for expected in (1, 2, 4, 8):
        b.failed("a")
        assert b.delay("a") == expected and b.delay("b") == 0
    for _ in range(20):
        b.failed("a")
    assert b.delay("a") == BACKOFF_MAX
    clock.t += 601
    assert b.delay("a") == 0
    b.failed("a")
    b.succeeded("a")
    assert b.delay("a") == 0


def test_relay_delays_the_next_try_after_a_failed_one() -> None:
    with RelayThread() as relay, AgentThread(AutoConsent(), relay=relay.address) as agent:
        wrong = "zzzz-zzzz" if agent.password != "zzzz-zzzz" else "yyyy-yyyy"
        with pytest.raises(zvkdiag.AuthenticationFailed):
            zvkdiag.connect(agent.session_id, wrong, relay=relay.address, engineer="E")
        deadline = time.monotonic() + 5
        while not relay.relay.backoff.delay("127.0.0.1") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert relay.relay.backoff.delay("127.0.0.1") == 1.0  # one failure, counted once
        t0 = time.monotonic()
        with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E"):
            waited = time.monotonic() - t0
        assert waited >= 0.9  # held back by the relay for about one second
        deadline = time.monotonic() + 5
        while relay.relay.backoff.delay("127.0.0.1") and time.monotonic() < deadline:
            time.sleep(0.02)  # the relay accounts for the pair once both sides closed
        assert relay.relay.backoff.delay("127.0.0.1") == 0  # a real session clears the record
