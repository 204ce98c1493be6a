"""Failed tries are held back per (address, ID), with a per-address ceiling for guessers.

The relay answers a held-back try at once with ``ERR backoff <seconds>``; the
engineer's side waits out a short one by itself and otherwise raises
``RelayBackoff`` saying how long to wait (never a bare ``TimeoutError``).
"""

from __future__ import annotations

import math
import time

import pytest

import zvkdiag
from zvkdiag.relay.limits import BACKOFF_MAX, FailureBackoff
from zvkdiag.relay.server import RelayConfig
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def test_schedule_per_address_and_id_is_exponential_capped_and_forgets() -> None:
    clock = Clock()
    b = FailureBackoff(clock=clock)
    assert b.wait("a", "1") == 0
    for expected in (1, 2, 4, 8):
        b.failed("a", "1")
        assert b.wait("a", "1") == expected
        assert b.wait("a", "2") == 0 and b.wait("b", "1") == 0  # a colleague, another address
    clock.t += 3
    assert b.wait("a", "1") == 5  # counted from the last failure
    for _ in range(20):
        b.failed("a", "1")
    assert b.wait("a", "1") == BACKOFF_MAX
    clock.t += 601
    assert b.wait("a", "1") == 0
    b.failed("a", "1")
    b.succeeded("a", "1")
    assert b.wait("a", "1") == 0


def test_an_address_that_fails_on_many_ids_is_held_back_on_every_id() -> None:
    clock = Clock()
    b = FailureBackoff(clock=clock, address_allowance=3)
    for target in ("1", "2", "3"):
        b.failed("nat", target)
    assert b.wait("nat", "4") == 0  # within the allowance: typos of a team
    b.failed("nat", "4")
    assert b.wait("nat", "5") == 1 and b.wait("other", "5") == 0
    b.failed("nat", "5")
    assert b.wait("nat", "6") == 2  # a guesser spreading tries over IDs is still slowed


def _failed_once(relay: RelayThread, agent: AgentThread) -> None:
    wrong = "zzzz-zzzz" if agent.password != "zzzz-zzzz" else "yyyy-yyyy"
    with pytest.raises(zvkdiag.AuthenticationFailed):
        zvkdiag.connect(agent.session_id, wrong, relay=relay.address, engineer="E")
    deadline = time.monotonic() + 5
    while not relay.relay.backoff.wait("127.0.0.1", agent.session_id):
        assert time.monotonic() < deadline, "the relay never counted the failed try"
        time.sleep(0.02)


def test_a_long_backoff_is_a_clear_error_and_spares_colleagues_and_the_customer() -> None:
    # base 20 s: the first failure alone holds the next try back past the 15 s connect timeout
    with (
        RelayThread(RelayConfig(backoff_base=20.0)) as relay,
        AgentThread(AutoConsent(), relay=relay.address) as typo,
        AgentThread(AutoConsent(), relay=relay.address) as colleague,
    ):
        _failed_once(relay, typo)
        tries_left = typo.agent.creds.tries_left
        with pytest.raises(zvkdiag.RelayBackoff) as caught:
            zvkdiag.connect(typo.session_id, typo.password, relay=relay.address, engineer="E")
        err = caught.value
        assert isinstance(err, zvkdiag.ConnectError) and err.reason == "backoff"
        assert 10 < err.retry_after <= 20
        assert f"wait {math.ceil(err.retry_after)} s" in str(err)
        assert typo.agent.creds.tries_left == tries_left  # the customer was not charged a try
        # the same address, another ID: a colleague behind the same NAT is not slowed
        with zvkdiag.connect(
            colleague.session_id, colleague.password, relay=relay.address, engineer="C"
        ):
            pass


def test_a_short_backoff_is_waited_out_and_a_session_clears_it() -> None:
    with (
        RelayThread(RelayConfig(backoff_base=1.0)) as relay,
        AgentThread(AutoConsent(), relay=relay.address) as agent,
    ):
        _failed_once(relay, agent)
        with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E"):
            pass
        deadline = time.monotonic() + 5
        while relay.relay.backoff.wait("127.0.0.1", agent.session_id):
            assert time.monotonic() < deadline, "a real session did not clear the record"
            time.sleep(0.02)  # the relay accounts for the pair once both sides closed
