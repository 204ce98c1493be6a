"""SIGTERM drains: live pairs stream on while a successor on the same port takes new offers.

Two real relay processes share one port through SO_REUSEPORT (``--reuse-port``).
"""

from __future__ import annotations

import socket

from zvkdiag.testing.fakes import AgentThread, AutoConsent
from zvkdiag.testing.procs import Proc

from ._client import offer, pair, recv_exactly
from ._scrape import scrape, value

REOFFER_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _relay(spawn: type[Proc], port: int) -> tuple[Proc, str]:
    p = spawn("relay", "--listen", f"127.0.0.1:{port}", "--reuse-port", "--metrics", "127.0.0.1:0")
    url = p.expect(r"Metrics on (\S+)").group(1)
    p.expect(r"Relay listening on ")
    return p, url


def _roundtrips(cust: socket.socket, eng: socket.socket, n: int) -> None:
    for i in range(n):
        data = bytes([i % 256]) * 8192
        cust.sendall(data)
        assert recv_exactly(eng, len(data)) == data
        eng.sendall(data[:100])
        assert recv_exactly(cust, 100) == data[:100]


def test_a_session_streams_across_the_switch_and_the_successor_takes_offers(
    spawn: type[Proc],
) -> None:
    port = _free_port()
    address = f"127.0.0.1:{port}"
    old, old_url = _relay(spawn, port)
    with AgentThread(AutoConsent(), relay=address) as agent:
        idle_id = agent.session_id  # an idle customer offered at the old relay
        cust, eng, _ = pair(address)
        _roundtrips(cust, eng, 5)
        assert value(scrape(old_url), "zvkdiag_relay_offers_waiting") == 1

        new, new_url = _relay(spawn, port)
        old.proc.terminate()  # SIGTERM: drain
        old.expect(r"Relay draining: 1 pairs live")
        draining = scrape(old_url)
        assert value(draining, "zvkdiag_relay_draining") == 1
        assert value(draining, "zvkdiag_relay_pairs_active") == 1
        assert value(draining, "zvkdiag_relay_offers_waiting") == 0  # sent on to the successor

        _roundtrips(cust, eng, 20)  # the old pair streams on
        offers = [offer(address) for _ in range(10)]  # every new offer is taken, by the new relay
        assert len({sid for _, sid in offers}) == 10
        with agent.connect_once_offered(address, REOFFER_TIMEOUT) as session:  # re-offered, same ID
            assert session.run(["echo", "hier"]).stdout == "hier\n"
        assert agent.session_id == idle_id
        _roundtrips(cust, eng, 5)
        assert old.proc.poll() is None  # still draining: a pair is live
        assert value(scrape(new_url), "zvkdiag_relay_draining") == 0

        cust.close()
        eng.close()
        old.expect(r"Relay drained")
        assert old.proc.wait(30) == 0
        for sock, _ in offers:
            sock.close()
        assert new.proc.poll() is None


def test_the_drain_timeout_cuts_what_is_left_and_says_so(spawn: type[Proc]) -> None:
    relay = spawn("relay", "--listen", "127.0.0.1:0", "--drain-timeout", "0.5")
    address = relay.expect(r"Relay listening on (\S+)").group(1)
    cust, eng, _ = pair(address)
    relay.proc.terminate()
    relay.expect(r"Relay draining: 1 pairs live")
    relay.expect(r"Relay drain timeout: pairs cut")
    assert relay.proc.wait(30) == 1
    assert cust.recv(1) == b"" and eng.recv(1) == b""  # closed by the relay
    cust.close()
    eng.close()
