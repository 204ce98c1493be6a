"""TcpProxy counts what it forwards per direction, over all connections, recorded or not."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from zvkdiag.testing.proxies import TcpProxy


class _Twice(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data + data)
        except OSError:
            pass  # the client went away


@pytest.fixture
def echo() -> Iterator[str]:
    """A loopback server that answers every connection with what it got, twice."""
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Twice) as server:
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield f"127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            thread.join(timeout=5)


def _exchange(address: str, payload: bytes) -> bytes:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(payload)
        got = bytearray()
        while len(got) < 2 * len(payload) and (data := conn.recv(65536)):
            got += data
        return bytes(got)


@pytest.mark.parametrize("record", [True, False])
def test_counts_both_directions_over_connections(echo: str, record: bool) -> None:
    payloads = [b"x" * 100_000, b"kurz"]
    with TcpProxy(echo, record=record) as proxy:
        for payload in payloads:
            assert _exchange(proxy.address, payload) == payload * 2
        sent = sum(len(p) for p in payloads)
        assert proxy.counted == {"up": sent, "down": 2 * sent}
        assert len(proxy.seen()) == (3 * sent if record else 0)
