"""Flow control for the screen stream: a small window of unacknowledged frames.

The sender may have at most ``window`` frames out that the viewer has not
acknowledged as drawn.  A full window means *do not capture*: a slow link or
a busy browser slows capture down instead of letting queues grow, so memory
stays bounded by ``window`` frames.

Acks are cumulative ("everything up to seq N is drawn"), may arrive late,
twice, or never: Jupyter Server drops messages past 1000/s, and a blocking
notebook cell can hold acks back.  When the oldest frame has waited longer
than the ack timeout the window is cleared and the machine enters
``RESYNC``: the next frame must be a keyframe (the viewer may have missed
any of the frames in between).  Each timeout in a row doubles the timeout, up
to ``max_timeout``, so a stalled viewer costs a keyframe now and then, not a
flood.  Pure: time is passed in, nothing sleeps.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

__all__ = ["ACK_TIMEOUT", "MAX_ACK_TIMEOUT", "WINDOW", "FlowControl", "FlowState"]

WINDOW: Final = 2
ACK_TIMEOUT: Final = 1.0
MAX_ACK_TIMEOUT: Final = 8.0


class FlowState(enum.Enum):
    OPEN = "open"  # room in the window
    FULL = "full"  # waiting for an ack
    RESYNC = "resync"  # acks timed out: the next frame must be a keyframe


@dataclass
class FlowControl:
    """The sender's view of which frames the viewer has drawn.

    Use: ``if flow.may_send(now): seq = flow.sent(now)``; ``flow.acked(n)``
    for each ack; ``flow.deadline()`` tells a waiting loop when to check
    ``flow.may_send`` again without an ack.
    """

    window: int = WINDOW
    ack_timeout: float = ACK_TIMEOUT
    max_timeout: float = MAX_ACK_TIMEOUT
    next_seq: int = 1
    _in_flight: dict[int, float] = field(default_factory=dict)  # seq -> sent at + allowance
    _resync: bool = True  # the very first frame is a keyframe
    _timeout: float = 0.0
    timeouts: int = 0

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("the flow-control window must hold at least one frame")
        self._timeout = self.ack_timeout

    @property
    def in_flight(self) -> int:
        """Frames sent and not yet acknowledged."""
        return len(self._in_flight)

    @property
    def needs_keyframe(self) -> bool:
        """True when the next frame must not depend on anything the viewer has."""
        return self._resync

    def state(self, now: float) -> FlowState:
        self._expire(now)
        if self._resync and not self._in_flight:
            return FlowState.RESYNC
        return FlowState.FULL if len(self._in_flight) >= self.window else FlowState.OPEN

    def may_send(self, now: float) -> bool:
        return self.state(now) is not FlowState.FULL

    def sent(self, now: float, *, continued: bool = False, allowance: float = 0.0) -> int:
        """Record a frame leaving; returns its seq.  Clears RESYNC (it was the keyframe).

        ``continued``: the second part of one capture split in two (small
        tiles first, ``adapt.split_tiles``); it may take one place beyond the
        window, so a split never waits for an ack between its parts.
        ``allowance``: seconds the frame needs on the line (a whole screen on
        a slow line takes seconds), added to its ack timeout.
        """
        self._expire(now)
        if len(self._in_flight) >= self.window + continued:
            raise RuntimeError("the flow-control window is full")
        seq = self.next_seq
        self.next_seq += 1
        self._in_flight[seq] = now + allowance
        self._resync = False
        return seq

    def acked(self, seq: int) -> int:
        """Cumulative ack up to ``seq``; returns how many in-flight frames it covered.

        Late or repeated acks cover nothing and are harmless.  An ack for a
        seq never sent is ignored as well (it only happens with a confused
        viewer, and ignoring it cannot open the window wrongly).
        """
        if seq >= self.next_seq:
            return 0
        covered = [s for s in self._in_flight if s <= seq]
        for s in covered:
            del self._in_flight[s]
        if covered:
            self._timeout = self.ack_timeout
        return len(covered)

    def request_keyframe(self) -> None:
        """The viewer lost its picture (reload, new widget): next frame is a keyframe."""
        self._resync = True

    def deadline(self) -> float | None:
        """When the oldest in-flight frame times out, or None with nothing in flight."""
        if not self._in_flight:
            return None
        return min(self._in_flight.values()) + self._timeout

    def _expire(self, now: float) -> None:
        limit = self.deadline()
        if limit is None or now < limit:
            return
        self._in_flight.clear()
        self._resync = True
        self.timeouts += 1
        self._timeout = min(self._timeout * 2, self.max_timeout)
