"""The resumable stream's bookkeeping, without I/O.

Each side numbers the bytes it sends (offsets from 0), keeps every byte the
peer has not acknowledged, and acknowledges what it received.  After a new
carrier is in place the peer says up to which offset it has received, and
``replay`` gives the frames to send again from exactly there.  What is kept is
bounded by ``max_unacked``: SSH's channel windows keep it far below the bound
in practice, so hitting it means the peer stopped acknowledging, and the
stream ends with ``ResumeBufferFull`` instead of growing without limit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

from zvkdiag._errors import ProtocolError, ResumeBufferFull
from zvkdiag.resume.frames import MAX_DATA, encode_ack, encode_data, parse_data

__all__ = ["ACK_EVERY", "MAX_UNACKED", "StreamState"]

MAX_UNACKED: Final = 64 * 1024 * 1024
ACK_EVERY: Final = 256 * 1024


@dataclass
class StreamState:
    """One side's offsets and its unacknowledged bytes."""

    max_unacked: int = MAX_UNACKED
    ack_every: int = ACK_EVERY
    sent: int = 0
    acked: int = 0
    received: int = 0
    acked_to_peer: int = 0
    _kept: deque[tuple[int, bytes]] = field(default_factory=deque)

    @property
    def unacked(self) -> int:
        return self.sent - self.acked

    def send(self, data: bytes) -> list[bytes]:
        """Number ``data``, keep it, and return the DATA frames that carry it."""
        if self.unacked + len(data) > self.max_unacked:
            raise ResumeBufferFull(
                f"The other side has not confirmed {self.unacked + len(data)} bytes (at most "
                f"{self.max_unacked} are kept for a resumption): the connection is given up."
            )
        out = []
        for start in range(0, len(data), MAX_DATA):
            chunk = data[start : start + MAX_DATA]
            self._kept.append((self.sent, chunk))
            out.append(encode_data(self.sent, chunk))
            self.sent += len(chunk)
        return out

    def on_ack(self, offset: int) -> None:
        """The peer has everything below ``offset``: forget it."""
        if not self.acked <= offset <= self.sent:
            raise ProtocolError(
                f"acknowledgement of offset {offset} outside {self.acked}..{self.sent}"
            )
        self.acked = offset
        kept = self._kept
        while kept and kept[0][0] + len(kept[0][1]) <= offset:
            kept.popleft()
        if kept and kept[0][0] < offset:
            start, chunk = kept[0]
            kept[0] = (offset, chunk[offset - start :])

    def on_data(self, payload: bytes | memoryview) -> bytes | memoryview:
        """The bytes of one DATA frame, which must start exactly where the last one ended."""
        offset, data = parse_data(payload)
        if offset != self.received:
            raise ProtocolError(f"stream bytes at offset {offset}, expected {self.received}")
        self.received += len(data)
        return data

    def ack_due(self) -> bool:
        return self.received - self.acked_to_peer >= self.ack_every

    def ack(self) -> bytes:
        self.acked_to_peer = self.received
        return encode_ack(self.received)

    def replay(self, peer_received: int) -> list[bytes]:
        """The frames to send again on a new carrier, from where the peer says it stands."""
        self.on_ack(peer_received)
        self.acked_to_peer = min(self.acked_to_peer, self.received)
        return [encode_data(offset, chunk) for offset, chunk in self._kept]
