"""``ZVK1 RESUME`` tries are rate-limited per source address, on a real relay process."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from zvkdiag.relay.limits import RESUME_BURST
from zvkdiag.testing.procs import Proc
from zvkdiag.wire import handshake

from ._client import dial, line

SID = "123456789"
TOKEN = "A" * 32


@contextlib.contextmanager
def _relay() -> Iterator[str]:
    p = Proc("relay", "--listen", "127.0.0.1:0")
    try:
        yield p.expect(r"Relay listening on (\S+)").group(1)
    finally:
        p.stop()


def _resume(address: str, source: str, token: str, role: str) -> socket.socket:
    sock = dial(address, source)
    sock.sendall(handshake.format_resume(SID, token, role))
    return sock


def test_a_resume_flood_is_refused_per_address_and_a_real_resumption_still_pairs() -> None:
    held: list[socket.socket] = []
    with _relay() as address:
        try:
            for i in range(int(RESUME_BURST)):  # each waits for a partner that never comes
                held.append(_resume(address, "127.0.0.2", f"{i:032d}", "customer"))
            flood = _resume(address, "127.0.0.2", "Z" * 32, "customer")
            held.append(flood)
            refused = line(flood)
            assert (refused.kind, refused.reason) == ("err", handshake.ERR_RATE_LIMITED)
            assert refused.retry_after is not None and refused.retry_after > 0
            last = held[-2]  # the last try within the burst was taken and is waiting
            last.settimeout(0.5)
            with contextlib.suppress(TimeoutError):
                assert not last.recv(1), "a try within the burst was answered"
            engineer = _resume(address, "127.0.0.3", TOKEN, "engineer")
            customer = _resume(address, "127.0.0.4", TOKEN, "customer")
            held += [engineer, customer]
            assert line(engineer).kind == "paired" and line(customer).kind == "paired"
            engineer.sendall(b"still the same pipe")
            assert customer.recv(64) == b"still the same pipe"
        finally:
            for sock in held:
                sock.close()
