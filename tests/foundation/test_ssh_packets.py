"""What SSH puts on the wire between the two ends: no empty MSG_IGNORE before each packet.

asyncssh logs every packet it sends and receives at debug level 3; the test
reads those records from a real session (real relay, real agent, real SSH on
loopback), both ends in this process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import asyncssh
import pytest

import zvkdiag
from zvkdiag.testing.fakes import AgentThread, RelayThread
from zvkdiag.wire.ssh import MSG_IGNORE, skip_ignore_packets


class _Packets(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)


@pytest.fixture
def packets() -> Iterator[_Packets]:
    logger = logging.getLogger("asyncssh")
    handler, level = _Packets(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    asyncssh.set_debug_level(3)
    try:
        yield handler
    finally:
        asyncssh.set_debug_level(1)
        logger.setLevel(level)
        logger.removeHandler(handler)


def test_no_ignore_packet_rides_before_each_packet(
    agent: AgentThread, relay: RelayThread, packets: _Packets
) -> None:
    with zvkdiag.connect(
        agent.session_id, agent.password, relay=relay.address, engineer="Erika"
    ) as s:
        packets.lines.clear()  # the handshake is done: from here on, every packet is data
        for _ in range(3):
            assert s.run(["true"]).ok
        data = packets.count("Sent MSG_CHANNEL_")
        ignored = packets.count("Sent MSG_IGNORE") + packets.count("Received MSG_IGNORE")
    assert data >= 6  # three commands' requests, data and replies, both ends
    assert ignored == 0


class _Conn:
    """Just what ``skip_ignore_packets`` touches of an asyncssh connection."""

    def __init__(self, cipher: str) -> None:
        self.cipher = cipher
        self.sent: list[tuple[int, tuple[bytes, ...]]] = []

    def get_extra_info(self, name: str) -> str:
        return self.cipher

    def send_packet(self, pkttype: int, *args: bytes, handler: object = None) -> None:
        self.sent.append((pkttype, args))


def test_only_the_empty_ignore_packets_are_dropped() -> None:
    conn = _Conn("chacha20-poly1305@openssh.com")
    skip_ignore_packets(conn)  # type: ignore[arg-type]
    conn.send_packet(MSG_IGNORE, b"\0\0\0\0")
    conn.send_packet(MSG_IGNORE, b"\0\0\0\2hi")
    conn.send_packet(94, b"\0\0\0\0", b"\0\0\0\1x")
    assert conn.sent == [(MSG_IGNORE, (b"\0\0\0\2hi",)), (94, (b"\0\0\0\0", b"\0\0\0\1x"))]


def test_a_connection_without_an_aead_cipher_keeps_its_ignore_packets() -> None:
    conn = _Conn("aes128-ctr")
    skip_ignore_packets(conn)  # type: ignore[arg-type]
    conn.send_packet(MSG_IGNORE, b"\0\0\0\0")
    assert conn.sent == [(MSG_IGNORE, (b"\0\0\0\0",))]
