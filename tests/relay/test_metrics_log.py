"""Known traffic through a real relay process: /metrics and the JSON log must match it exactly."""

from __future__ import annotations

import json
import socket

from zvkdiag.testing.procs import Proc

from ._client import connect, dial, line, offer, pair, recv_exactly
from ._scrape import Samples, scrape, scrape_until, value

M = "zvkdiag_relay_"
PAIRS = 3
UP, DOWN = 5000, 3000  # bytes customer -> engineer, engineer -> customer per pair


def _stream(cust: socket.socket, eng: socket.socket) -> None:
    cust.sendall(b"c" * UP)
    eng.sendall(b"e" * DOWN)
    assert recv_exactly(eng, UP) == b"c" * UP
    assert recv_exactly(cust, DOWN) == b"e" * DOWN


def _conns(samples: Samples, result: str) -> float:
    return value(samples, f"{M}connections_total", transport="tcp", result=result)


def test_counters_and_json_lines_match_the_traffic(spawn: type[Proc]) -> None:
    relay = spawn(
        "relay", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
        "--log-format", "json", "--blur-addresses",
    )  # fmt: skip
    url = relay.expect(r"Metrics on (\S+)").group(1)
    address = relay.expect(r"Relay listening on (\S+)").group(1)
    ids: list[str] = []

    # live gauges: one pair streaming, one offer waiting
    cust, eng, sid = pair(address)
    ids.append(sid)
    waiting, wid = offer(address)
    live = scrape(url)
    assert value(live, f"{M}pairs_active") == 1 and value(live, f"{M}offers_waiting") == 1
    assert value(live, f"{M}draining") == 0
    _stream(cust, eng)
    cust.close()
    eng.close()
    waiting.close()  # lonely
    for _ in range(PAIRS - 1):
        cust, eng, sid = pair(address)
        ids.append(sid)
        _stream(cust, eng)
        eng.close()
        cust.close()
    lonely, lid = offer(address)
    lonely.close()
    # a failed try: paired, then gone before 2 KiB passed
    cust, eng, failed_sid = pair(address)
    cust.sendall(b"x" * 100)
    assert recv_exactly(eng, 100)
    eng.close()
    cust.close()
    scrape_until(url, lambda s: _conns(s, "failed_try") == 2)
    # rejections: an unknown ID, a bad handshake, a backoff for the failed ID
    sock, reply = connect(address, "999999999")
    assert reply.reason == "unknown-id"
    sock.close()
    sock = dial(address)
    sock.sendall(b"HELLO\n")
    assert line(sock).reason == "bad-request"
    sock.close()
    sock, reply = connect(address, failed_sid)
    assert reply.reason == "backoff" and reply.retry_after
    sock.close()

    samples = scrape_until(url, lambda s: _conns(s, "rejected") == 3)
    assert _conns(samples, "paired") == 2 * PAIRS
    assert _conns(samples, "failed_try") == 2
    assert _conns(samples, "lonely") == 2
    assert _conns(samples, "rejected") == 3
    for reason, n in (("unknown_id", 1), ("bad_handshake", 1), ("backoff", 1), ("rate_limit", 0)):
        assert value(samples, f"{M}rejections_total", reason=reason) == n, reason
    assert value(samples, f"{M}bytes_total", direction="to_engineer") == PAIRS * UP + 100
    assert value(samples, f"{M}bytes_total", direction="to_customer") == PAIRS * DOWN
    assert value(samples, f"{M}pairing_wait_seconds_count") == PAIRS + 1
    assert value(samples, f"{M}session_duration_seconds_count") == PAIRS + 1
    assert value(samples, f"{M}pairs_active") == 0 and value(samples, f"{M}offers_waiting") == 0

    assert relay.stop() == 0  # SIGTERM with nothing live: drained at once
    assert relay.proc.stderr is not None
    err = relay.proc.stderr.read()
    for sid in [*ids, wid, lid, failed_sid]:
        assert sid not in err  # never a full ID
    records = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    outcomes = [r["outcome"] for r in records]
    assert outcomes.count("paired") == PAIRS and outcomes.count("failed-try") == 1
    assert outcomes.count("lonely") == 2
    assert sorted(r["reason"] for r in records if r["outcome"] == "rejected") == [
        "backoff", "bad-request", "unknown-id",
    ]  # fmt: skip
    paired = [r for r in records if r["outcome"] == "paired"]
    assert {(r["bytes_to_engineer"], r["bytes_to_customer"]) for r in paired} == {(UP, DOWN)}
    assert all(r["customer"] == r["engineer"] == "127.0.0.0/24" for r in paired)
    assert all(r["duration_s"] >= r["session_s"] >= 0 and r["start"] <= r["end"] for r in paired)
    failed = next(r for r in records if r["outcome"] == "failed-try")
    backoff = next(r for r in records if r["reason"] == "backoff")
    assert failed["id_hash"] == backoff["id_hash"] and len(failed["id_hash"]) == 16
    assert len({r["id_hash"] for r in paired}) == PAIRS


def test_metrics_address_in_use_is_a_clear_error_at_start(spawn: type[Proc]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        relay = spawn("relay", "--listen", "127.0.0.1:0", "--metrics", f"127.0.0.1:{port}")
        assert relay.proc.wait(30) == 1
    assert relay.proc.stderr is not None
    err = relay.proc.stderr.read()
    assert f"Cannot serve metrics on 127.0.0.1:{port}" in err and "--metrics" in err
    assert "Traceback" not in err
