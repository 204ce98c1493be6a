"""The relay's limits and records as pure values: fake clocks, no sockets, no sleeps."""

from __future__ import annotations

import datetime as dt
import json

from zvkdiag.relay.limits import LookupLimiter, ResumeLimiter, TokenBucket
from zvkdiag.relay.records import IdHasher, PairingRecord, blur_address, rejection_label, to_json


class Clock:
    t = 100.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_goes_into_debt_and_says_how_long_to_pay_it_off() -> None:
    clock = Clock()
    b = TokenBucket(rate=1000, burst=500, clock=clock)
    assert b.take(400) == 0 and b.wait(100) == 0 and b.wait(200) == 0.1
    assert b.take(600) == 0.5  # 500 short at 1000/s
    clock.t += 0.5
    assert b.wait(1) == 0.001
    clock.t += 10
    assert b.full and b.take(500) == 0  # refills to the burst, never beyond


def test_lookup_limiter_allows_a_burst_then_one_per_interval_per_address() -> None:
    clock = Clock()
    lim = LookupLimiter(clock=clock, rate=0.2, burst=3)
    for _ in range(3):
        assert lim.wait("a") == 0
        lim.wrong("a")
    assert lim.wait("a") == 5.0 and lim.wait("b") == 0
    clock.t += 5
    assert lim.wait("a") == 0


def test_blur_and_rejection_labels() -> None:
    assert blur_address("203.0.113.77") == "203.0.113.0/24"
    assert blur_address("2001:db8:1:2::7") == "2001:db8:1::/48"
    assert blur_address("?") == "?"
    assert rejection_label("timeout") == rejection_label("bad-request") == "bad_handshake"
    assert rejection_label("rate-limited") == "rate_limit"
    assert rejection_label("unknown-id") == "unknown_id"


def test_id_hash_is_stable_within_a_day_and_changes_the_next() -> None:
    day = [dt.date(2026, 12, 7)]
    h = IdHasher(secret=b"k" * 32, today=lambda: day[0])
    first = h("123456789")
    assert h("123456789") == first != h("123456780") and len(first) == 16
    day[0] = dt.date(2026, 12, 8)
    assert h("123456789") != first


def test_json_line_has_no_id_and_blurs_on_request() -> None:
    rec = PairingRecord(
        outcome="paired", transport="tcp", started=1e9, ended=1e9 + 2.5, session_id="123456789",
        customer="198.51.100.9", engineer="192.0.2.1", wait=1.0, duration=1.5,
        bytes_to_engineer=10, bytes_to_customer=20,
    )  # fmt: skip
    line = to_json(rec, IdHasher(), blur=True)
    assert "123456789" not in line and "198.51.100.9" not in line
    data = json.loads(line)
    assert data["customer"] == "198.51.100.0/24" and data["engineer"] == "192.0.2.0/24"
    assert data["duration_s"] == 2.5 and data["session_s"] == 1.5 and data["wait_s"] == 1.0
    assert data["start"].startswith("2001-09-09T01:46:40")


def test_resume_limiter_spends_every_try_per_address() -> None:
    clock = Clock()
    lim = ResumeLimiter(clock=clock, rate=1.0, burst=2)
    for _ in range(2):
        assert lim.wait("a") == 0
        lim.tried("a")
    assert lim.wait("a") == 1.0 and lim.wait("b") == 0
    clock.t += 1
    assert lim.wait("a") == 0
