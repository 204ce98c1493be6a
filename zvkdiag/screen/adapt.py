"""The screen stream on a slow line: measure it from the acks, keep what the viewer sees fresh.

The frame window of ``flow`` bounds frames, not bytes: on a 1 Mbit/s line
two whole-screen JPEG frames are four seconds of queue, and a typed letter
waits behind them.  ``LineAdapter`` is the sender's model of the line and the
three levers it pulls:

- **Backlog** (the frame rate).  Bytes sent and not yet acknowledged may not
  exceed ``budget`` = rate x (round trip + ``QUEUE_TARGET``): enough to keep
  the line busy, little enough that a new frame (a typed letter) waits at
  most ``QUEUE_TARGET`` behind older ones.  A frame goes out whenever the
  backlog is under the budget; with a full budget nothing is captured, so a
  busy line lowers the frame rate by itself and every frame is captured as
  late as possible.
- **JPEG quality.**  A frame whose bytes alone take longer than
  ``FRAME_TARGET`` on the measured rate steps the quality down the
  ``QUALITIES`` ladder; ``RAISE_AFTER`` seconds with every frame well under
  it step it back up.  Each step down also halves the bytes a tile may
  take as lossless (``LOSSLESS_MAX``): a moving window full of text is
  dozens of 2-3 KB lossless tiles, a fraction of that as low-quality JPEG
  (refined once the line is idle).
- **Small tiles first.**  When a captured frame holds big JPEG tiles
  beside small exact ones (a typed letter while a window moves), the small
  ones leave first as a frame of their own (``split_tiles``), so the letter
  does not wait for the picture's bytes.
- **Refinement** (the lossless repair of JPEG tiles) runs only while nothing
  is in flight, within ``REFINE_TIME`` of line time per frame.

Measurement, as BBR does it: the **rate** is the windowed maximum of delivery
rate samples (bytes acknowledged over the time they took; a frame sent into
an idle line has the round trip taken off its time); the **round trip** is
the windowed minimum of send-to-ack times of small frames sent into an idle
line, less their own line time (a frame behind others would count their queue as
round trip, and the budget would grow with the queue); a line busy from
the start gets a rough first value from frames behind others (their wait
included: an upper bound).  Both keep their last sample when
the window has no newer one.  Before the first samples the
budget is unbounded (only the frame window holds), so a fast line never
waits for a measurement.

Pure: the caller passes the clock in; nothing sleeps, nothing is sent.  Each
frame's accounting (``FrameRecord``: backlog ahead of it, expected age at
the viewer) is kept for the stream's statistics and the tests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from zvkdiag.screen.codec import Encoding
from zvkdiag.screen.encoder import LOSSLESS_MAX
from zvkdiag.screen.frames import Tile

__all__ = [
    "FRAME_TARGET",
    "QUALITIES",
    "QUEUE_TARGET",
    "Decision",
    "FrameRecord",
    "LineAdapter",
    "LineEstimate",
    "split_tiles",
]

QUALITIES: Final = (75, 60, 45, 30, 20, 12)  # the JPEG quality ladder, best first
QUEUE_TARGET: Final = 0.05  # seconds a new frame may wait behind older ones
FRAME_TARGET: Final = 0.08  # seconds of line time one frame should take at most
SPLIT_TIME: Final = 0.02  # JPEG bytes of more line time than this let the small tiles go first
RAISE_AFTER: Final = 2.0  # seconds of small frames before the quality steps up again
RAISE_MARGIN: Final = 0.4  # "well under": below this share of FRAME_TARGET
LOSSLESS_MIN: Final = 256  # ... and never fewer than this (flat tiles stay exact)
REFINE_TIME: Final = 0.05  # seconds of line time for refinement per frame on an idle line
REFINE_MAX: Final = 512 * 1024  # refinement bytes per frame on a fast line
MIN_BUDGET: Final = 16 * 1024  # the backlog budget never drops below this
MIN_SAMPLE_BYTES: Final = 4096  # fewer bytes acknowledged say nothing about the rate
RATE_WINDOW: Final = 10.0  # seconds over which the best rate sample counts
RTT_WINDOW: Final = 10.0  # seconds over which the shortest round trip counts
HISTORY: Final = 2000  # frame records kept
ASSUMED_RATE: Final = 64 * 1024  # bytes/s a line is given before it is measured (512 kbit/s)


@dataclass(frozen=True)
class LineEstimate:
    """What the sender believes about the line (None: not measured yet)."""

    rate: float | None  # bytes per second
    rtt: float | None  # seconds


@dataclass(frozen=True)
class Decision:
    """How the next frame is encoded."""

    jpeg_quality: int
    lossless_max: int  # bytes a changed tile may take as lossless before it goes JPEG
    refine_budget: int  # lossless refinement bytes allowed in this frame
    split_over: int | None  # JPEG bytes past which small tiles go first (None: never)


@dataclass(frozen=True)
class FrameRecord:
    """One frame as the adapter accounted for it when it left."""

    seq: int
    sent_at: float
    size: int
    backlog: int  # unacknowledged bytes ahead of it
    budget: int | None  # the backlog budget in force (None: unbounded, not measured yet)
    quality: int
    expected_age: float | None  # capture to viewer, by the estimate: queue + own bytes + rtt/2
    continued: bool  # the second part of a split capture (sent without asking ``may_send``)


@dataclass
class _InFlight:
    sent_at: float
    size: int
    delivered: int  # bytes acknowledged when it left
    delivered_at: float  # when those were acknowledged (the send time on an idle line)
    first_sent_at: float  # when the last of those had left (the send time on an idle line)
    ahead: int  # unacknowledged bytes ahead of it when it left


class LineAdapter:
    """The line model and the decisions of one screen stream.

    Use: ``may_send(now)`` before capturing; ``decision()`` for the encoder;
    ``sent(seq, size, now)`` when the frame leaves; ``acked(seq, now)`` for
    each (cumulative) ack; ``forget()`` when the flow control gave up on the
    frames in flight (ack timeout).
    """

    def __init__(self) -> None:
        self._in_flight: dict[int, _InFlight] = {}
        self._delivered = 0
        self._delivered_at = 0.0
        self._last_seq = 0
        self._first_sent_at = 0.0
        # (at, value) of the windowed samples that can still be the maximum rate or the
        # minimum round trip, the newest last: the estimate is the first, O(1) per frame
        # (scanning ~250 samples of 10 s, a few times per frame, cost ~0.1 ms a frame)
        self._rates: deque[tuple[float, float]] = deque()  # (at, bytes/s), falling
        self._rtts: deque[tuple[float, float]] = deque()  # (at, seconds), rising
        self._rough_rtt: float | None = None  # from frames behind others, until one finds it idle
        self._level = 0  # index into QUALITIES
        self._calm_since: float | None = None
        self.records: deque[FrameRecord] = deque(maxlen=HISTORY)
        self.quality_changes: list[tuple[float, int]] = []  # (at, new quality)

    # -- the estimate ---------------------------------------------------------------------

    def estimate(self) -> LineEstimate:
        rate = self._rates[0][1] if self._rates else None
        rtt = self._rtts[0][1] if self._rtts else self._rough_rtt
        return LineEstimate(rate, rtt)

    @property
    def backlog(self) -> int:
        """Bytes sent and not yet acknowledged."""
        return sum(f.size for f in self._in_flight.values())

    def budget(self) -> int | None:
        """Unacknowledged bytes allowed (None: unbounded until the line is measured)."""
        line = self.estimate()
        if line.rate is None or line.rtt is None:
            return None
        return max(MIN_BUDGET, int(line.rate * (line.rtt + QUEUE_TARGET)))

    # -- decisions ------------------------------------------------------------------------

    @property
    def quality(self) -> int:
        return QUALITIES[self._level]

    def may_send(self) -> bool:
        """Room for one more frame: nothing in flight, or the backlog under the budget."""
        budget = self.budget()
        return not self._in_flight or budget is None or self.backlog < budget

    def decision(self) -> Decision:
        rate = self.estimate().rate
        if self._in_flight:
            refine = 0
        elif rate is None:
            refine = REFINE_MAX
        else:
            refine = min(REFINE_MAX, int(rate * REFINE_TIME))
        split = None if rate is None else int(rate * SPLIT_TIME)
        lossless = max(LOSSLESS_MIN, LOSSLESS_MAX >> self._level)
        return Decision(self.quality, lossless, refine, split)

    def line_time(self, size: int) -> float:
        """Seconds ``size`` bytes and the backlog ahead of them need on the line.

        Before the line is measured a slow line is assumed, so the first
        whole screen is not given up on (ack timeout) while it is still on its way.
        """
        rate = self.estimate().rate or ASSUMED_RATE
        return (self.backlog + size) / rate

    # -- events ---------------------------------------------------------------------------

    def sent(self, seq: int, size: int, now: float, *, continued: bool = False) -> FrameRecord:
        """A frame of ``size`` bytes left at ``now``; returns its accounting."""
        idle = not self._in_flight
        backlog = self.backlog
        line = self.estimate()
        age = None
        if line.rate is not None and line.rtt is not None:
            age = (backlog + size) / line.rate + line.rtt / 2
        record = FrameRecord(seq, now, size, backlog, self.budget(), self.quality, age, continued)
        self.records.append(record)
        delivered_at, first_sent = (now, now) if idle else (self._delivered_at, self._first_sent_at)
        self._in_flight[seq] = _InFlight(
            now, size, self._delivered, delivered_at, first_sent, backlog
        )
        self._last_seq = max(self._last_seq, seq)
        self._steer_quality(size, now)
        return record

    def acked(self, seq: int, now: float) -> None:
        """The viewer has every frame up to ``seq``: take rate and round-trip samples."""
        covered = sorted(s for s in self._in_flight if s <= seq)
        if not covered or seq > self._last_seq:  # a seq never sent: a confused viewer
            return
        frames = [self._in_flight.pop(s) for s in covered]
        self._delivered += sum(f.size for f in frames)
        self._delivered_at = now
        last = frames[-1]
        self._first_sent_at = last.sent_at
        self._sample_rate(last, now)
        self._sample_rtt(last, now)

    def forget(self) -> None:
        """The frames in flight will not be acknowledged (the flow control timed out)."""
        self._in_flight.clear()

    # -- internals ------------------------------------------------------------------------

    def _sample_rtt(self, frame: _InFlight, now: float) -> None:
        rtt = now - frame.sent_at
        rate = self.estimate().rate
        own = 0.0 if rate is None else frame.size / rate
        if frame.ahead:  # queued behind others: only while no frame found the line idle
            if not self._rtts and rate is not None and rtt > own:  # with the wait: an upper bound
                self._rough_rtt = min(self._rough_rtt or rtt, rtt - own)
            return
        if own > rtt / 2:
            return  # mostly line time: an error in the rate would dominate
        _windowed(self._rtts, now, rtt - own, RTT_WINDOW, lambda old, new: old >= new)

    def _sample_rate(self, frame: _InFlight, now: float) -> None:
        delivered = self._delivered - frame.delivered
        if delivered < MIN_SAMPLE_BYTES:
            return
        # acks may come bunched: the slower of sending and acknowledging counts (BBR)
        took = max(now - frame.delivered_at, frame.sent_at - frame.first_sent_at)
        rtt = self.estimate().rtt or 0.0
        if not frame.ahead:  # sent into an idle line: the first byte needed a round trip
            took = max(took - rtt, took / 2)
        if took <= 0:
            return
        _windowed(self._rates, now, delivered / took, RATE_WINDOW, lambda old, new: old <= new)

    def _steer_quality(self, size: int, now: float) -> None:
        rate = self.estimate().rate
        if rate is None:
            return
        took = size / rate
        if took > FRAME_TARGET:
            self._calm_since = None
            if self._level < len(QUALITIES) - 1:
                self._set_level(self._level + 1, now)
            return
        if took > FRAME_TARGET * RAISE_MARGIN:
            self._calm_since = None
        elif self._calm_since is None:
            self._calm_since = now
        elif now - self._calm_since >= RAISE_AFTER and self._level > 0:
            self._calm_since = now
            self._set_level(self._level - 1, now)

    def _set_level(self, level: int, now: float) -> None:
        self._level = level
        self.quality_changes.append((now, QUALITIES[level]))


def _windowed(
    samples: deque[tuple[float, float]],
    now: float,
    value: float,
    window: float,
    beaten: Callable[[float, float], bool],
) -> None:
    """Add a sample; keep those that can still win within ``window`` (the first wins).

    A sample ``beaten`` by a newer one never wins again (the newer one stays
    in the window longer).  The newest sample stays even when the window has
    passed it.
    """
    while samples and beaten(samples[-1][1], value):
        samples.pop()
    samples.append((now, value))
    while len(samples) > 1 and samples[0][0] < now - window:
        samples.popleft()


def split_tiles(tiles: Sequence[Tile], split_over: int | None) -> list[list[Tile]]:
    """The frame's tiles as one part, or two: exact tiles first, then the JPEG ones.

    Two only when the JPEG tiles hold more than ``split_over`` bytes and
    the rest, fewer bytes than they, could go ahead of them.  The parts are disjoint
    (a tile is either exact, or JPEG), and a COPY stays first, so applying
    them in order draws what the one frame would have drawn.
    """
    jpeg = [t for t in tiles if t.encoding is Encoding.JPEG]
    small = [t for t in tiles if t.encoding is not Encoding.JPEG]
    if split_over is None or not small or not jpeg:
        return [list(tiles)]
    big = sum(len(t.payload) for t in jpeg)
    if big <= split_over or sum(len(t.payload) for t in small) >= big:
        return [list(tiles)]
    return [small, jpeg]
