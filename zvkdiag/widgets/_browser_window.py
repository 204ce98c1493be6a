"""The kernel's window towards the browser: what it acknowledges to the customer, and when.

The customer side keeps at most two frames unacknowledged (``zvkdiag.screen.flow``).
Passing the browser's acks through one by one made the browser acknowledge every
frame at once, and every message from the browser costs a ``status`` reply on
the websocket (~550 bytes) and ~12 ms of JupyterLab's CPU (docs/benchmarks.md,
"Second hop").  So the kernel acknowledges a frame upstream as soon as it has
sent it to the browser, as long as the frames the browser has not yet
acknowledged as drawn stay within ``frames`` and ``size`` bytes; the browser
acknowledges cumulatively, every 32 frames or once a second.  A browser that stops
acknowledging stops the upstream acks once this window is full, and the
customer's capture waits for it as before: a slow browser still throttles.

``BrowserWindow(frames=0)`` passes only the browser's own acks (the former way).
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

__all__ = ["MAX_TRACKED", "WINDOW_BYTES", "WINDOW_FRAMES", "BrowserWindow"]

WINDOW_FRAMES: Final = 64
"""Frames the browser may have undrawn or unacknowledged: ~2.5 s at 25 fps, twice what it
acknowledges at once (32 frames or 1 s) plus a round trip: the picture never waits.  Each
ack costs ~550 bytes of status reply; bytes (``WINDOW_BYTES``) limit what may queue."""
WINDOW_BYTES: Final = 1 << 20
"""Bytes of those frames; the browser acknowledges at half of it (a slow link to the
browser throttles capture after ~1 MiB queued instead of growing a queue)."""
MAX_TRACKED: Final = 256
"""Sent frames remembered at most (a browser that never acks: only keyframes keep coming)."""


@dataclass
class BrowserWindow:
    """Frames sent to the browser and not yet drawn there, and the ack owed upstream.

    ``sent`` and ``drawn`` return the seq to acknowledge upstream now, or None
    when nothing new may be acknowledged.
    """

    frames: int = WINDOW_FRAMES
    size: int = WINDOW_BYTES
    _out: deque[tuple[int, int]] = field(default_factory=deque)  # (seq, bytes), oldest first
    _drawn: int = 0
    _upstream: int = 0

    @property
    def in_flight(self) -> int:
        """Frames sent that the browser has not acknowledged."""
        return len(self._out)

    def reset(self) -> None:
        """A new stream: its seqs start again at 1."""
        self._out.clear()
        self._drawn = self._upstream = 0

    def sent(self, seq: int, size: int) -> int | None:
        """A frame (or a repaint up to ``seq``) went to the browser."""
        if not self._out or seq > self._out[-1][0]:
            self._out.append((seq, size))
            if len(self._out) > MAX_TRACKED:
                self._out.popleft()
        return self._advance()

    def drawn(self, seq: int) -> int | None:
        """The browser's cumulative ack: every frame up to ``seq`` is drawn."""
        self._drawn = max(self._drawn, seq)
        while self._out and self._out[0][0] <= seq:
            self._out.popleft()
        return self._advance()

    def _advance(self) -> int | None:
        allowed, total = self._drawn, 0
        for count, (seq, size) in enumerate(self._out, 1):
            total += size
            if count > self.frames or (total > self.size and count > 1):
                break
            allowed = seq
        if allowed <= self._upstream:
            return None
        self._upstream = allowed
        return allowed
