"""The grab budget: a second grab may follow at once, the average stays at the rate."""

from __future__ import annotations

import itertools

import pytest

from zvkdiag.screen.pacing import FullPoll, GrabBudget


def test_after_a_pause_two_grabs_may_follow_each_other_at_once() -> None:
    budget = GrabBudget(60.0)
    assert budget.ready_at(10.0) == 10.0
    budget.spend(10.0)
    assert budget.ready_at(10.001) == 10.001  # the second burst of one drawing
    budget.spend(10.001)
    assert budget.ready_at(10.002) > 10.002  # a third waits for the refill
    assert budget.ready_at(10.002) == pytest.approx(10.0 + 1 / 60, abs=1e-6)  # 60/s on average


def test_a_steady_stream_is_paced_evenly_at_the_rate() -> None:
    budget = GrabBudget(50.0)
    now, times = 0.0, []
    for _ in range(200):
        now = budget.ready_at(now)
        budget.spend(now)
        times.append(now)
    gaps = [b - a for a, b in itertools.pairwise(times[2:])]
    assert min(gaps) == pytest.approx(0.02) and max(gaps) == pytest.approx(0.02)
    assert len(times) / times[-1] == pytest.approx(50.0, rel=0.02)


def test_a_grab_beyond_the_budget_delays_the_next_one() -> None:
    budget = GrabBudget(10.0, burst=1)
    budget.spend(0.0)
    budget.spend(0.0)  # e.g. a poll tick that grabbed without asking
    assert budget.ready_at(0.0) == pytest.approx(0.2)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 2), (-1.0, 2), (60.0, 0)])
def test_nonsense_settings_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        GrabBudget(rate, burst)


def test_the_full_poll_widens_while_damage_proves_right_up_to_the_longest() -> None:
    net = FullPoll(5.0, 30.0)
    assert net.due(0.0)
    periods = []
    for now in (0.0, 10.0, 30.0, 60.0, 90.0, 120.0):
        assert net.due(now)
        net.done(now, missed=False)
        periods.append(net.period)
        assert not net.due(now + net.period - 0.001)
    assert periods == [10.0, 20.0, 30.0, 30.0, 30.0, 30.0]


def test_one_missed_change_tightens_the_full_poll_for_good() -> None:
    net = FullPoll(5.0, 30.0)
    net.done(0.0, missed=False)
    net.done(10.0, missed=True)
    assert net.period == 5.0 and not net.trusted
    for now in (15.0, 20.0, 25.0):
        net.done(now, missed=False)
    assert net.period == 5.0


def test_a_full_poll_that_cannot_tell_leaves_the_period() -> None:
    net = FullPoll(5.0, 30.0)
    net.done(0.0, missed=False)
    net.done(10.0, missed=None)  # a keyframe, or something drawn meanwhile
    assert net.period == 10.0 and net.trusted
    assert not net.due(19.9) and net.due(20.0)


@pytest.mark.parametrize(("first", "longest"), [(0.0, 30.0), (5.0, 4.0)])
def test_a_nonsense_full_poll_is_refused(first: float, longest: float) -> None:
    with pytest.raises(ValueError):
        FullPoll(first, longest)
