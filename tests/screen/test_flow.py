"""The flow-control machine, with time passed in (no sleeps)."""

from __future__ import annotations

import pytest

from zvkdiag.screen.flow import FlowControl, FlowState


def test_first_frame_is_a_keyframe_then_the_window_fills() -> None:
    flow = FlowControl()
    assert flow.state(0.0) is FlowState.RESYNC and flow.needs_keyframe
    assert flow.sent(0.0) == 1
    assert not flow.needs_keyframe
    assert flow.state(0.0) is FlowState.OPEN
    assert flow.sent(0.01) == 2
    assert flow.state(0.02) is FlowState.FULL
    with pytest.raises(RuntimeError, match="full"):
        flow.sent(0.02)


def test_cumulative_ack_frees_the_window() -> None:
    flow = FlowControl()
    flow.sent(0.0)
    flow.sent(0.0)
    assert flow.acked(2) == 2
    assert flow.in_flight == 0 and flow.state(0.1) is FlowState.OPEN


def test_late_repeated_and_future_acks_are_harmless() -> None:
    flow = FlowControl()
    flow.sent(0.0)
    flow.sent(0.0)
    assert flow.acked(1) == 1
    assert flow.acked(1) == 0
    assert flow.acked(99) == 0  # never sent: must not open the window
    assert flow.in_flight == 1


def test_ack_timeout_clears_the_window_and_demands_a_keyframe() -> None:
    flow = FlowControl(ack_timeout=1.0)
    flow.sent(0.0)
    flow.sent(0.5)
    assert flow.deadline() == 1.0
    assert flow.state(0.99) is FlowState.FULL
    assert flow.state(1.0) is FlowState.RESYNC
    assert flow.in_flight == 0 and flow.needs_keyframe and flow.timeouts == 1
    assert flow.sent(1.0) == 3  # seqs keep counting
    assert flow.acked(2) == 0  # a late ack from before the timeout covers nothing


def test_repeated_timeouts_back_off_and_an_ack_resets_the_timeout() -> None:
    flow = FlowControl(ack_timeout=1.0, max_timeout=4.0)
    now = 0.0
    for expected in (1.0, 2.0, 4.0, 4.0):
        flow.sent(now)
        assert flow.deadline() == now + expected
        now += expected
        assert flow.state(now) is FlowState.RESYNC
    seq = flow.sent(now)
    flow.acked(seq)
    flow.sent(now)
    assert flow.deadline() == now + 1.0


def test_the_viewer_can_ask_for_a_keyframe() -> None:
    flow = FlowControl()
    flow.acked(flow.sent(0.0))
    flow.request_keyframe()
    assert flow.needs_keyframe and flow.state(0.0) is FlowState.RESYNC


def test_window_must_hold_a_frame() -> None:
    with pytest.raises(ValueError, match="at least one"):
        FlowControl(window=0)


def test_a_continued_frame_may_take_one_place_past_the_window() -> None:
    flow = FlowControl(window=2)
    flow.sent(0.0)
    flow.sent(0.0)
    with pytest.raises(RuntimeError):
        flow.sent(0.0)
    flow.sent(0.0, continued=True)
    with pytest.raises(RuntimeError):
        flow.sent(0.0, continued=True)
    assert flow.in_flight == 3


def test_allowance_for_line_time_delays_the_ack_timeout() -> None:
    flow = FlowControl(ack_timeout=1.0)
    flow.sent(0.0, allowance=3.0)  # a whole screen on a slow line
    assert flow.deadline() == 4.0
    assert flow.state(3.9) is FlowState.OPEN
    assert flow.state(4.0) is FlowState.RESYNC
