"""wss vs raw TCP relay throughput, interleaved; optionally two code trees in one run.

One ``zvkdiag relay`` child with both listeners (throwaway CA). Each round
downloads --mb MB (``head -c N /dev/zero`` over a zvkdiag session) once through
the raw TCP listener and once through wss (``--repeat`` downloads on one
session: a sustained stream, past the ramp-up of the windows), alternating which goes first, so
both paths see the same machine load. Prints MB/s medians and wss/raw.

``--compare DIR``: each round also runs this bench once with ``PYTHONPATH=DIR``
(another checkout's ``zvkdiag``, e.g. ``git archive main zvkdiag | tar -x -C DIR``),
alternating with the current tree: before/after figures from the same run.

Run: ``.venv/bin/python bench/wss_bench.py [--rounds 5] [--mb 15] [--repeat 1] [--compare DIR]``
(--mb at most 16: the session cuts stdout there)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zvkdiag
from zvkdiag.testing.fakes import AgentThread, AutoConsent
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.tls import ThrowawayCA

NAME = "relay.zvk.test"


def download(agent: AgentThread, relay: str, nbytes: int, repeat: int) -> float:
    s = zvkdiag.connect(agent.session_id, agent.password, relay=relay, engineer="Bench")
    try:
        s.run(["true"])  # the channel machinery is warm before the clock starts
        t0 = time.perf_counter()
        got = sum(
            len(s.run(["head", "-c", str(nbytes), "/dev/zero"]).stdout) for _ in range(repeat)
        )
        return got / (time.perf_counter() - t0) / 1e6
    finally:
        s.close()
        agent.fresh_password(agent.password)


def one_tree(rounds: int, nbytes: int, repeat: int) -> dict[str, list[float]]:
    folder = Path(tempfile.mkdtemp(prefix="zvkdiag-wssbench-"))
    ca = ThrowawayCA(folder, NAME, "127.0.0.1")
    os.environ["SSL_CERT_FILE"] = str(ca.ca_file)
    relay = Proc(
        *("relay", "--listen", "127.0.0.1:0", "--listen-wss", "127.0.0.1:0"),
        *("--cert", str(ca.cert_file), "--key", str(ca.key_file)),
    )
    try:
        raw = relay.expect(r"Relay listening on \S+:(\d+)").group(1)
        wss = relay.expect(r"for wss on \S+:(\d+)").group(1)
        paths = {"raw": f"127.0.0.1:{raw}", "wss": f"wss://127.0.0.1:{wss}"}
        rates: dict[str, list[float]] = {k: [] for k in paths}
        agents = {k: AgentThread(AutoConsent(), relay=r) for k, r in paths.items()}
        for a in agents.values():
            a.__enter__()
        try:
            for i in range(rounds):
                for k in sorted(paths, reverse=bool(i % 2)):
                    rates[k].append(download(agents[k], paths[k], nbytes, repeat))
        finally:
            for a in agents.values():
                a.__exit__(None, None, None)
        return rates
    finally:
        relay.stop()


def child(tree: str | None, nbytes: int, repeat: int) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": tree} if tree else dict(os.environ)
    cmd = [sys.executable, __file__, "--rounds", "1", "--bytes", str(nbytes), "--json"]
    cmd += ["--repeat", str(repeat)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, list[float]] = json.loads(out.splitlines()[-1])
    return result


def report(label: str, rates: dict[str, list[float]]) -> None:
    raw, wss = statistics.median(rates["raw"]), statistics.median(rates["wss"])
    ratios = [w / r for w, r in zip(rates["wss"], rates["raw"], strict=True)]
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
    print(f"{label:8} {raw:9.1f} {wss:9.1f} {wss / raw:8.2f} {spread:>11}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mb", type=int, default=15)
    ap.add_argument("--bytes", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="downloads per session and path")
    ap.add_argument("--compare", default=None, help="another tree's folder holding zvkdiag/")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    nbytes = args.bytes or args.mb * 1_000_000
    if args.json:
        print(json.dumps(one_tree(args.rounds, nbytes, args.repeat)))
        return 0
    print(f"load average before: {os.getloadavg()}")
    if args.compare:
        trees = {"before": args.compare, "after": None}
        got: dict[str, dict[str, list[float]]] = {k: {"raw": [], "wss": []} for k in trees}
        for i in range(args.rounds):
            for k in sorted(trees, reverse=bool(i % 2)):
                for path, rs in child(trees[k], nbytes, args.repeat).items():
                    got[k][path] += rs
    else:
        got = {"this": one_tree(args.rounds, nbytes, args.repeat)}
    print(f"{args.repeat} x {nbytes / 1e6:.0f} MB per session, {args.rounds} rounds, medians")
    print(f"{'tree':8} {'raw MB/s':>9} {'wss MB/s':>9} {'wss/raw':>8} {'per round':>11}")
    for k, rates in got.items():
        report(k, rates)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
