"""TcpProxy counts what it forwards per direction, over all connections, recorded or not."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from zvkdiag.testing.proxies import TcpProxy


@pytest.fixture
def echo() -> Iterator[str]:
    """A loopback server that answers every connection with what it got, twice."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)  # accept() looks at ``stop`` between waits
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with conn:
                try:
                    while data := conn.recv(65536):
                        conn.sendall(data + data)
                except OSError:
                    pass  # the client went away

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


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
