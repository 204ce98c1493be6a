"""``zvkdiag relay``: one relay process with its signals, metrics, log and TLS.

SIGTERM drains (no new offers, live pairs keep streaming until they end or
``--drain-timeout``), SIGINT stops at once, SIGHUP reloads the certificate.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass

from zvkdiag._errors import RelaySetupError, ZvkdiagError
from zvkdiag.relay.records import IdHasher, PairingRecord, to_json
from zvkdiag.relay.server import Relay, RelayConfig, start_relay
from zvkdiag.relay.tls import TlsFiles

__all__ = ["RelayOptions", "serve"]

log = logging.getLogger("zvkdiag.relay")
pairings = logging.getLogger("zvkdiag.relay.pairings")


@dataclass(frozen=True)
class RelayOptions:
    """``listen``: raw TCP (TLS when ``tls`` and no ``wss``); ``wss``: WebSocket over TLS."""

    listen: tuple[str, int] | None
    config: RelayConfig
    wss: tuple[str, int] | None = None
    metrics: tuple[str, int] | None = None
    log_format: str = "text"
    blur_addresses: bool = False
    tls: TlsFiles | None = None
    reuse_port: bool = False


def _json_log() -> None:
    """One JSON object per line on stderr for each finished pairing, whatever ``-v`` says."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    pairings.addHandler(handler)
    pairings.setLevel(logging.INFO)
    pairings.propagate = False


def _log_sink(options: RelayOptions) -> Callable[[PairingRecord], None]:
    hasher = IdHasher()
    if options.log_format == "json":
        _json_log()

        def sink(record: PairingRecord) -> None:
            pairings.info(to_json(record, hasher, blur=options.blur_addresses))

        return sink

    def text(record: PairingRecord) -> None:
        pairings.info(
            "%s%s id=%s bytes=%d/%d",
            record.outcome,
            f" ({record.reason})" if record.reason else "",
            hasher(record.session_id) if record.session_id else "-",
            record.bytes_to_engineer,
            record.bytes_to_customer,
        )

    return text


async def serve(options: RelayOptions) -> int:
    """Run until SIGINT, or SIGTERM and the drain; 0 if no pair was cut."""
    tls = options.tls.context() if options.tls else None
    relay = Relay(options.config)
    relay.sinks.append(_log_sink(options))
    stop_metrics = None
    if options.metrics:
        from zvkdiag.relay.metrics import RelayMetrics, serve_metrics

        metrics = RelayMetrics(relay, _transports(options, tls))
        http, _ = serve_metrics(metrics, *options.metrics)
        stop_metrics = http.shutdown
        print(f"Metrics on http://{options.metrics[0]}:{http.server_port}/metrics", flush=True)
    try:
        return await _listen(relay, options, tls)
    finally:
        if stop_metrics:
            stop_metrics()


def _transports(options: RelayOptions, tls: ssl.SSLContext | None) -> tuple[str, ...]:
    raw = () if options.listen is None else ("tcp",) if options.wss or not tls else ("tls",)
    return (*raw, *(("wss",) if options.wss else ()))


def _cannot_listen(host: str, port: int, exc: OSError) -> RelaySetupError:
    return RelaySetupError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.")


async def _start(relay: Relay, options: RelayOptions, tls: ssl.SSLContext | None) -> None:
    """The listeners asked for; the one TLS context serves both (SIGHUP reloads it in place)."""
    if options.listen is not None:
        host, port = options.listen
        raw_tls = None if options.wss else tls
        try:
            _, server = await start_relay(
                host, port, relay=relay, tls=raw_tls, reuse_port=options.reuse_port
            )
        except OSError as exc:
            raise RelaySetupError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}."
            ) from exc
        name = server.sockets[0].getsockname()
        print(f"Relay listening on {name[0]}:{name[1]}", flush=True)
    if options.wss is not None and tls is not None:
        from zvkdiag.relay.wss import start_wss_relay

        host, port = options.wss
        try:
            server = await start_wss_relay(relay, host, port, tls, reuse_port=options.reuse_port)
        except OSError as exc:
            raise RelaySetupError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}."
            ) from exc
        name = server.sockets[0].getsockname()
        print(f"Relay listening for wss on {name[0]}:{name[1]}", flush=True)


async def _listen(relay: Relay, options: RelayOptions, tls: ssl.SSLContext | None) -> int:
    await _start(relay, options, tls)
    stop, drain = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, drain.set)
    if options.tls is not None and tls is not None:
        loop.add_signal_handler(signal.SIGHUP, _reload, options.tls, tls)
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(drain.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in waits:
        task.cancel()
    if stop.is_set():
        for server in relay.servers:
            server.close()
        return 0
    relay.drain()
    print(f"Relay draining: {relay.pairs_active} pairs live", flush=True)
    clean = await relay.drained()
    print("Relay drained" if clean else "Relay drain timeout: pairs cut", flush=True)
    return 0 if clean else 1


def _reload(files: TlsFiles, ctx: ssl.SSLContext) -> None:
    try:
        files.reload(ctx)
    except ZvkdiagError as exc:
        log.error("certificate not reloaded, the old one stays: %s", exc)
        print(f"Certificate not reloaded: {exc}", file=sys.stderr, flush=True)
        return
    print(f"Certificate reloaded from {files.cert}", flush=True)
