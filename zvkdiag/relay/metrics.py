"""Prometheus metrics of one relay, served on their own address (``--metrics HOST:PORT``).

Events (connections, rejections, pairing wait, session duration) arrive as
``PairingRecord`` values; live values (offers waiting, pairs active, bytes,
draining) are read from the relay at scrape time, so the byte pipe pays
nothing per chunk beyond adding to an integer.  Each relay has its own
registry: two relays in one process (the tests) never share counters.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from zvkdiag._errors import RelaySetupError
from zvkdiag.relay.records import OUTCOMES, PairingRecord, rejection_label
from zvkdiag.relay.server import Relay

__all__ = ["PREFIX", "RelayMetrics", "serve_metrics"]

PREFIX: Final = "zvkdiag_relay"
REJECTION_REASONS: Final = (
    "bad_handshake",
    "rate_limit",
    "unknown_id",
    "backoff",
    "busy",
    "claim_rejected",
    "too_many_connections",
    "draining",
)
WAIT_BUCKETS: Final = (0.1, 1, 5, 15, 60, 300, 900)
SESSION_BUCKETS: Final = (1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600)


class _Live(Collector):
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def collect(self) -> Iterator[Metric]:
        r = self.relay
        yield GaugeMetricFamily(
            f"{PREFIX}_offers_waiting", "Customers offered and waiting for an engineer",
            value=r.state.live_offers,
        )  # fmt: skip
        yield GaugeMetricFamily(
            f"{PREFIX}_pairs_active", "Paired sessions the relay is copying bytes for",
            value=r.pairs_active,
        )  # fmt: skip
        yield GaugeMetricFamily(
            f"{PREFIX}_draining", "1 while the relay takes no offers and waits for pairs to end",
            value=int(r.draining),
        )  # fmt: skip
        moved = CounterMetricFamily(
            f"{PREFIX}_bytes", "Bytes copied, by direction", labels=["direction"]
        )
        moved.add_metric(["to_engineer"], r.bytes_to_engineer)
        moved.add_metric(["to_customer"], r.bytes_to_customer)
        yield moved
        yield CounterMetricFamily(
            f"{PREFIX}_throttled", "Times a bandwidth cap paused reading", value=r.throttled
        )


class RelayMetrics:
    """The relay's metrics in a registry of their own; ``observe`` is a record sink."""

    def __init__(self, relay: Relay, transports: tuple[str, ...] = ("tcp",)) -> None:
        self.registry = CollectorRegistry()
        self.connections = Counter(
            f"{PREFIX}_connections", "Client connections ended, by transport and result",
            ["transport", "result"], registry=self.registry,
        )  # fmt: skip
        self.rejections = Counter(
            f"{PREFIX}_rejections", "Connections refused, by reason", ["reason"],
            registry=self.registry,
        )  # fmt: skip
        self.pairing_wait = Histogram(
            f"{PREFIX}_pairing_wait_seconds", "From a customer's offer to its pairing",
            buckets=WAIT_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.session_duration = Histogram(
            f"{PREFIX}_session_duration_seconds", "From pairing to the end of the pair",
            buckets=SESSION_BUCKETS, registry=self.registry,
        )  # fmt: skip
        for transport in transports:  # every series exists from the start: rate() needs a 0
            for result in OUTCOMES:
                self.connections.labels(transport, result.replace("-", "_"))
        for reason in REJECTION_REASONS:
            self.rejections.labels(reason)
        self.registry.register(_Live(relay))
        relay.sinks.append(self.observe)

    def observe(self, record: PairingRecord) -> None:
        result = record.outcome.replace("-", "_")
        self.connections.labels(record.transport, result).inc(record.connections)
        if record.outcome == "rejected":
            self.rejections.labels(rejection_label(record.reason or "closed")).inc()
        if record.wait is not None:
            self.pairing_wait.observe(record.wait)
        if record.duration is not None:
            self.session_duration.observe(record.duration)


def serve_metrics(
    metrics: RelayMetrics, host: str, port: int
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``/metrics`` on ``host:port`` from a thread; a clear error if it cannot bind."""
    try:
        return start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise RelaySetupError(
            f"Cannot serve metrics on {host}:{port}: {exc.strerror or exc}. Choose another "
            "address with --metrics HOST:PORT, or stop what already listens there."
        ) from exc
