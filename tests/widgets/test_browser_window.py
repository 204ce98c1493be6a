"""The kernel's window towards the browser: upstream acks without an ack per frame."""

from __future__ import annotations

from zvkdiag.widgets._browser_window import MAX_TRACKED, BrowserWindow


def test_frames_are_acknowledged_upstream_as_sent_while_the_window_has_room() -> None:
    window = BrowserWindow(frames=3, size=1000)
    assert [window.sent(seq, 10) for seq in (1, 2, 3)] == [1, 2, 3]
    assert window.sent(4, 10) is None  # the browser has drawn none of them yet
    assert window.sent(5, 10) is None
    assert window.drawn(2) == 5  # 3, 4, 5 fit the window again
    assert window.in_flight == 3


def test_a_browser_that_stops_acknowledging_stops_the_upstream_acks() -> None:
    window = BrowserWindow(frames=4, size=1 << 20)
    acked = [window.sent(seq, 100) for seq in range(1, 40)]
    assert [a for a in acked if a is not None] == [1, 2, 3, 4]
    assert window.drawn(39) == 39


def test_bytes_fill_the_window_too_but_one_frame_always_goes() -> None:
    window = BrowserWindow(frames=16, size=1000)
    assert window.sent(1, 600) == 1
    assert window.sent(2, 600) is None  # 1200 bytes undrawn
    assert window.drawn(1) == 2
    assert window.sent(3, 5000) is None
    assert window.drawn(2) == 3  # alone, a frame larger than the window still goes


def test_frames_zero_passes_only_the_browsers_own_acks() -> None:
    window = BrowserWindow(frames=0)
    assert window.sent(1, 10) is None and window.sent(2, 10) is None
    assert window.drawn(1) == 1
    assert window.drawn(1) is None  # nothing new
    assert window.drawn(2) == 2


def test_a_repaint_up_to_an_older_seq_and_late_acks_change_nothing() -> None:
    window = BrowserWindow(frames=2)
    assert window.sent(5, 10) == 5
    assert window.sent(3, 10) is None  # a repaint of what was already sent
    assert window.drawn(4) is None and window.in_flight == 1


def test_a_new_stream_starts_from_seq_one() -> None:
    window = BrowserWindow(frames=1)
    assert window.sent(7, 10) == 7
    window.reset()
    assert window.sent(1, 10) == 1 and window.in_flight == 1


def test_memory_stays_bounded_when_the_browser_never_answers() -> None:
    window = BrowserWindow(frames=1)
    for seq in range(1, 10 * MAX_TRACKED):
        window.sent(seq, 10)
    assert window.in_flight == MAX_TRACKED
