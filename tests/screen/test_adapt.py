"""The line model of the screen stream: rate and round trip from acks, and its three levers.

Pure: time is a number passed in.  ``SimulatedLine`` is a FIFO line of a
given rate and round trip (each frame is acknowledged a round trip after its
last byte left), enough to check that the adapter finds the line and keeps
the backlog where it says.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest

from zvkdiag.screen.adapt import (
    ASSUMED_RATE,
    FRAME_TARGET,
    LOSSLESS_MIN,
    MIN_BUDGET,
    QUALITIES,
    QUEUE_TARGET,
    RAISE_AFTER,
    REFINE_MAX,
    SPLIT_TIME,
    LineAdapter,
    _windowed,
    split_tiles,
)
from zvkdiag.screen.codec import Encoding
from zvkdiag.screen.encoder import LOSSLESS_MAX
from zvkdiag.screen.flow import WINDOW
from zvkdiag.screen.frames import Tile


@dataclass
class SimulatedLine:
    rate: float  # bytes/s
    rtt: float
    busy_until: float = 0.0
    acks: list[tuple[float, int]] = field(default_factory=list)  # (due, seq)

    def send(self, seq: int, size: int, now: float) -> None:
        self.busy_until = max(self.busy_until, now) + size / self.rate
        self.acks.append((self.busy_until + self.rtt, seq))

    def deliver(self, adapter: LineAdapter, until: float) -> None:
        while self.acks and self.acks[0][0] <= until:
            due, seq = self.acks.pop(0)
            adapter.acked(seq, due)


def run(
    adapter: LineAdapter, line: SimulatedLine, sizes: list[int], step: float = 0.01
) -> list[int]:
    """Offer a frame whenever the adapter and a two-frame window allow; returns the seqs sent."""
    now, sent = 0.0, []
    for seq, size in enumerate(sizes, 1):
        while not adapter.may_send() or len(line.acks) >= WINDOW:
            now += step
            line.deliver(adapter, now)
        adapter.sent(seq, size, now)
        line.send(seq, size, now)
        sent.append(seq)
        now += step
        line.deliver(adapter, now)
    return sent


def measured(size: int = 100_000, acked_at: float = 1.9) -> LineAdapter:
    """An adapter that has measured a round trip of 0.1 s and, by default, 125 kB/s."""
    adapter = LineAdapter()
    adapter.sent(1, 100, 0.0)
    adapter.acked(1, 0.1)
    adapter.sent(2, size, 1.0)
    adapter.acked(2, acked_at)
    return adapter


def test_unmeasured_line_is_not_held_back() -> None:
    adapter = LineAdapter()
    assert adapter.budget() is None
    for seq in range(1, 6):
        assert adapter.may_send()
        adapter.sent(seq, 200_000, float(seq))
    assert adapter.quality == QUALITIES[0]
    assert adapter.records[-1].expected_age is None


def test_round_trip_from_a_small_frame_and_rate_from_a_big_one() -> None:
    adapter = LineAdapter()
    adapter.sent(1, 100, 0.0)
    adapter.acked(1, 0.12)
    adapter.sent(2, 125_000, 1.0)  # one second of a 1 Mbit/s line, sent into an idle line
    adapter.acked(2, 2.12)
    line = adapter.estimate()
    assert line.rtt == pytest.approx(0.12)
    assert line.rate == pytest.approx(125_000, rel=0.01)
    assert adapter.budget() == int(125_000 * (0.12 + QUEUE_TARGET))


def test_a_full_budget_holds_the_next_frame_until_an_ack() -> None:
    adapter = measured()
    budget = adapter.budget()
    assert budget is not None
    adapter.sent(3, budget, 2.0)
    assert not adapter.may_send()
    adapter.acked(3, 2.5)
    assert adapter.may_send()


def test_small_budget_still_lets_one_frame_out() -> None:
    adapter = measured(8_000, 2.0)  # a very slow line: the budget is the minimum
    assert adapter.budget() == MIN_BUDGET
    assert adapter.may_send()
    adapter.sent(3, 10 * MIN_BUDGET, 3.0)  # bigger than the budget, but nothing was in flight
    assert not adapter.may_send()


def test_cumulative_and_stray_acks() -> None:
    adapter = LineAdapter()
    for seq in (1, 2, 3):
        adapter.sent(seq, 1000, 0.1 * seq)
    adapter.acked(99, 1.0)  # never sent: ignored
    assert adapter.backlog == 3000
    adapter.acked(2, 1.0)
    assert adapter.backlog == 1000
    adapter.acked(2, 1.1)  # repeated
    assert adapter.backlog == 1000
    adapter.forget()
    assert adapter.backlog == 0


@pytest.mark.parametrize(("rate", "rtt"), [(500_000.0, 0.06), (125_000.0, 0.12)])
def test_finds_the_line_and_keeps_the_backlog_bounded(rate: float, rtt: float) -> None:
    adapter, line = LineAdapter(), SimulatedLine(rate, rtt)
    run(adapter, line, [100] + [60_000] * 80)
    found = adapter.estimate()
    assert found.rtt == pytest.approx(rtt, rel=0.05)
    assert found.rate is not None and 0.8 * rate <= found.rate <= 1.05 * rate
    budget = adapter.budget()
    assert budget is not None
    later = list(adapter.records)[20:]
    assert all(r.budget is not None and r.backlog < r.budget for r in later)
    # what the adapter expects each frame to wait matches what the simulated line did
    assert all(r.expected_age is not None for r in later)


def test_a_line_busy_from_the_start_still_gets_a_round_trip_and_a_budget() -> None:
    adapter, line = LineAdapter(), SimulatedLine(125_000.0, 0.12)
    run(adapter, line, [30_000] * 40)  # never a frame into an idle line after the first
    found = adapter.estimate()
    assert found.rtt is not None and 0.12 <= found.rtt <= 2 * 0.12  # rough: an upper bound
    later = [r for r in adapter.records if r.budget is not None]
    assert len(later) > 20
    assert all(r.backlog < r.budget for r in later if r.budget is not None)


def test_big_frames_step_the_quality_down_and_calm_raises_it_again() -> None:
    adapter = measured()
    big = int(125_000 * FRAME_TARGET * 2)
    for seq, at in ((3, 2.0), (4, 3.0)):
        adapter.sent(seq, big, at)
        adapter.acked(seq, at + 0.6)
    assert adapter.quality == QUALITIES[2]
    assert [q for _, q in adapter.quality_changes] == [QUALITIES[1], QUALITIES[2]]
    assert adapter.decision().lossless_max == LOSSLESS_MAX // 4  # text goes JPEG sooner, too
    at, seq = 4.0, 4
    while at < 4.0 + 2 * RAISE_AFTER + 0.5:
        seq += 1
        adapter.sent(seq, 200, at)
        adapter.acked(seq, at + 0.1)
        at += 0.25
    assert adapter.quality == QUALITIES[0]


def test_quality_stops_at_the_bottom_of_the_ladder() -> None:
    adapter = measured(10_000, 2.0)
    for seq in range(3, 20):
        adapter.sent(seq, 100_000, float(seq))
        adapter.acked(seq, seq + 0.9)
    assert adapter.quality == QUALITIES[-1]
    assert adapter.decision().lossless_max == LOSSLESS_MIN


def test_refinement_only_on_an_idle_line_and_within_its_time() -> None:
    adapter = LineAdapter()
    assert adapter.decision().refine_budget == REFINE_MAX
    adapter.sent(1, 100, 0.0)
    assert adapter.decision().refine_budget == 0
    adapter.acked(1, 0.1)
    adapter.sent(2, 50_000, 1.0)
    adapter.acked(2, 1.5)
    rate = adapter.estimate().rate
    assert rate is not None
    assert 0 < adapter.decision().refine_budget < REFINE_MAX
    assert adapter.decision().refine_budget == int(rate * 0.05)


def test_expected_age_counts_the_backlog_ahead() -> None:
    adapter = measured()
    adapter.sent(3, 5_000, 2.0)
    record = adapter.sent(4, 2_500, 2.01)
    assert record.backlog == 5_000
    assert record.expected_age == pytest.approx(7_500 / 125_000 + 0.05, rel=0.01)


def _tile(encoding: Encoding, size: int, x: int = 0) -> Tile:
    return Tile(x, 0, 64, 64, encoding, b"\0" * size)


def test_small_tiles_leave_ahead_of_big_jpeg_ones() -> None:
    copy, letter = _tile(Encoding.COPY, 8), _tile(Encoding.XOR, 40, 64)
    photo = _tile(Encoding.JPEG, 30_000, 128)
    refined = _tile(Encoding.LOSSLESS, 900, 192)
    tiles = [copy, letter, photo, refined]
    assert split_tiles(tiles, 2_500) == [[copy, letter, refined], [photo]]
    assert split_tiles(tiles, 50_000) == [tiles]  # the JPEG part is cheap enough
    assert split_tiles(tiles, None) == [tiles]  # line not measured
    assert split_tiles([photo], 2_500) == [[photo]]  # nothing small to send ahead
    assert split_tiles([letter], 2_500) == [[letter]]
    lossless = [_tile(Encoding.LOSSLESS, 3000, 64 * i) for i in range(12)]
    assert split_tiles([*lossless, photo], 2_500) == [[*lossless, photo]]  # not smaller


def test_split_threshold_and_line_time_follow_the_measured_rate() -> None:
    fresh = LineAdapter()
    assert fresh.decision().split_over is None
    assert fresh.line_time(ASSUMED_RATE) == pytest.approx(1.0)  # unmeasured: a slow line
    adapter = measured()
    assert adapter.decision().split_over == int(125_000 * SPLIT_TIME)
    adapter.sent(3, 25_000, 3.0)
    assert adapter.line_time(100_000) == pytest.approx(1.0)  # the backlog counts too


@pytest.mark.parametrize("best", [max, min])
def test_the_windowed_best_sample_is_the_best_of_the_window_or_the_newest(best: Any) -> None:
    """The kept samples give what a scan of every sample in the window gives, at O(1)."""
    rng = random.Random(16)
    kept: deque[tuple[float, float]] = deque()
    every: list[tuple[float, float]] = []
    now = 0.0
    for _ in range(2000):
        now += rng.choice([0.001, 0.04, 0.3, 2.5])
        value = rng.choice([rng.random(), round(rng.random(), 1)])  # ties too
        beaten = (lambda old, new: old <= new) if best is max else (lambda old, new: old >= new)
        _windowed(kept, now, value, 10.0, beaten)
        every.append((now, value))
        window = [v for at, v in every if at >= now - 10.0] or [every[-1][1]]
        assert kept[0][1] == best(window)
