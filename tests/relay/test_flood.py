"""A flood of wrong IDs from one address is rate-limited and legitimate pairs stay served."""

from __future__ import annotations

import threading

import zvkdiag
from zvkdiag.relay.metrics import RelayMetrics
from zvkdiag.relay.server import RelayConfig
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread

from ._client import connect

FLOOD = 200


def test_wrong_id_flood_is_rate_limited_and_a_real_pair_is_served_meanwhile() -> None:
    config = RelayConfig(lookup_burst=20, lookup_rate=0.001)  # no refill within the test
    with (
        RelayThread(config) as relay,
        AgentThread(AutoConsent(), relay=relay.address) as agent,
    ):
        metrics = RelayMetrics(relay.relay)
        replies: list[str] = []

        def flood() -> None:
            for i in range(FLOOD):
                sock, reply = connect(relay.address, str(100_000_000 + i), source="127.0.0.2")
                sock.close()
                replies.append(f"{reply.reason}")

        guesser = threading.Thread(target=flood)
        guesser.start()
        served = 0
        password = agent.password
        while guesser.is_alive() or served == 0:
            with zvkdiag.connect(
                agent.session_id, password, relay=relay.address, engineer="E"
            ) as session:
                assert session.run(["true"]).exit_status == 0
            served += 1
            password = agent.fresh_password(password)  # a new one after every session
        guesser.join()
        assert replies.count("unknown-id") == 20
        assert replies.count("rate-limited") == FLOOD - 20
        assert served >= 1

        def rejected(reason: str) -> float | None:
            return metrics.registry.get_sample_value(
                "zvkdiag_relay_rejections_total", {"reason": reason}
            )

        assert rejected("unknown_id") == 20 and rejected("rate_limit") == FLOOD - 20
