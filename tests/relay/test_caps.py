"""Bandwidth caps (off by default): a capped pair is paused by its token bucket, bytes intact."""

from __future__ import annotations

import os
import threading

import pytest

from zvkdiag.relay.server import RelayConfig
from zvkdiag.testing.fakes import RelayThread

from ._client import pair, recv_exactly

SIZE = 2_000_000


def _stream_through(relay: RelayThread) -> None:
    cust, eng, _ = pair(relay.address)
    data = os.urandom(SIZE)
    sender = threading.Thread(target=cust.sendall, args=(data,))
    sender.start()
    assert recv_exactly(eng, SIZE) == data
    sender.join()
    eng.sendall(b"bye")
    assert recv_exactly(cust, 3) == b"bye"
    cust.close()
    eng.close()


def test_no_cap_by_default() -> None:
    with RelayThread() as relay:
        _stream_through(relay)
        assert relay.relay.throttled == 0 and relay.relay.total_bucket is None


@pytest.mark.parametrize("cap", ["pair_rate", "total_rate"])
def test_a_cap_pauses_reading_and_loses_nothing(cap: str) -> None:
    with RelayThread(RelayConfig(**{cap: 4_000_000})) as relay:  # 2 MB: half a second's worth
        _stream_through(relay)
        assert relay.relay.throttled > 0
