"""Pairing and password lifetimes as pure state machines: no sockets, no sleeps."""

from zvkdiag.agent.lifecycle import Credentials
from zvkdiag.relay.limits import AddressLimiter
from zvkdiag.relay.state import QUARANTINE, RESERVATION_TTL, PairingState
from zvkdiag.wire.handshake import Connect, Offer


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_offer_connect_and_reoffer_with_claim() -> None:
    clock = Clock()
    st = PairingState(clock=clock)
    d = st.handle("cust", Offer())
    assert d.kind == "offered" and d.session_id and d.claim
    assert st.handle("eng", Connect(d.session_id)).peer == "cust"
    assert st.handle("eng2", Connect(d.session_id)).kind == "wait"  # reserved, not offered
    assert st.handle("thief", Offer(d.session_id, "x" * 32)).reason == "claim-rejected"
    again = st.handle("cust2", Offer(d.session_id, d.claim))
    assert again.kind == "offered" and again.session_id == d.session_id


def test_unknown_id_and_lonely_offers() -> None:
    st = PairingState(clock=Clock())
    assert st.handle("e", Connect("123456789")).reason == "unknown-id"
    d = st.handle("c", Offer())
    st.withdraw("c")
    assert st.live_offers == 0 and st.outcomes["lonely"] == 1
    assert st.handle("e", Connect(d.session_id or "")).kind == "wait"


def test_released_ids_are_quarantined() -> None:
    clock = Clock()
    ids = iter(["111111111", "111111111", "222222222"])
    st = PairingState(clock=clock, new_id=lambda: next(ids))
    first = st.handle("c", Offer())
    st.withdraw("c")
    clock.t += RESERVATION_TTL + 2
    assert st.handle("e", Connect("111111111")).reason == "unknown-id"  # released
    assert st.handle("c2", Offer()).session_id == "222222222"  # 111... is quarantined
    assert first.session_id == "111111111"
    clock.t += QUARANTINE + 2
    st.handle("x", Connect("000000001"))  # sweep


def test_offer_cap() -> None:
    st = PairingState(clock=Clock(), max_offers=2)
    assert st.handle(1, Offer()).kind == "offered"
    assert st.handle(2, Offer()).kind == "offered"
    assert st.handle(3, Offer()).reason == "busy"


def test_address_limiter() -> None:
    lim = AddressLimiter(2)
    assert lim.acquire("a") and lim.acquire("a") and not lim.acquire("a") and lim.acquire("b")
    lim.release("a")
    assert lim.acquire("a")


def test_three_failures_rotate_the_password() -> None:
    creds = Credentials("123456789", clock=Clock())
    first = creds.password
    assert creds.failed() == (2, False)
    assert creds.failed() == (1, False)
    left, rotated = creds.failed()
    assert rotated and left == 3 and creds.password != first


def test_unused_password_expires_but_not_during_a_session() -> None:
    clock = Clock()
    creds = Credentials("123456789", clock=clock)
    clock.t += 599
    assert not creds.expired()
    creds.session_started()
    clock.t += 10
    assert not creds.expired()
    old = creds.password
    assert creds.session_ended() != old
    clock.t += 600
    assert creds.expired()
