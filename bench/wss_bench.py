"""wss (direct, and through squid) vs raw TCP relay throughput, interleaved; two trees in one run.

One ``zvkdiag relay`` child with both listeners (throwaway CA). Each round
downloads --mb MB (``head -c N /dev/zero`` over a zvkdiag session) once through
the raw TCP listener and once through wss (``--repeat`` downloads on one
session: a sustained stream, past the ramp-up of the windows), alternating which goes first, so
both paths see the same machine load. Prints MB/s medians and wss/raw.

``--squid``: a third path, wss through a private squid on loopback (Basic login;
the relay's name resolves only inside squid), printed as squid/raw.

CPU ms per MB: this process (agent and engineer), the relay and squid together,
per path, from their CPU times around the downloads: what the path costs,
which the other jobs on a shared machine move less than the MB/s.

``--compare DIR``: each round also runs this bench once with ``PYTHONPATH=DIR``
(another checkout's ``zvkdiag``, e.g. ``git archive main zvkdiag | tar -x -C DIR``),
alternating with the current tree: before/after figures from the same run.

Run: ``.venv/bin/python bench/wss_bench.py [--rounds 5] [--mb 15] [--repeat 1] [--squid]
[--compare DIR]``
(--mb at most 16: the session cuts stdout there)
"""

from __future__ import annotations

import argparse
import contextlib
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
from zvkdiag.testing.squid import Squid
from zvkdiag.testing.tls import ThrowawayCA

NAME = "relay.zvk.test"


Via = tuple[str, str | None]  # relay address, proxy URL


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def download(
    agent: AgentThread, path: Via, nbytes: int, repeat: int, pids: list[int]
) -> tuple[float, float]:
    """MB/s and CPU ms per MB (this process and ``pids``) of ``repeat`` downloads."""
    relay, proxy = path
    s = zvkdiag.connect(
        agent.session_id, agent.password, relay=relay, proxy=proxy, engineer="Bench"
    )
    try:
        s.run(["true"])  # the channel machinery is warm before the clock starts
        cpu0 = time.process_time() + sum(map(cpu_seconds, pids))
        t0 = time.perf_counter()
        got = sum(
            len(s.run(["head", "-c", str(nbytes), "/dev/zero"]).stdout) for _ in range(repeat)
        )
        wall = time.perf_counter() - t0
        cpu = time.process_time() + sum(map(cpu_seconds, pids)) - cpu0
        return got / wall / 1e6, cpu * 1e3 / (got / 1e6)
    finally:
        s.close()
        agent.fresh_password(agent.password)


def one_tree(rounds: int, nbytes: int, repeat: int, squid: bool) -> dict[str, list[float]]:
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
        paths: dict[str, Via] = {
            "raw": (f"127.0.0.1:{raw}", None),
            "wss": (f"wss://127.0.0.1:{wss}", None),
        }
        pids = {"raw": [relay.proc.pid], "wss": [relay.proc.pid]}
        with contextlib.ExitStack() as stack:
            if squid:
                proxy = stack.enter_context(Squid(ports=[int(wss)], hosts={NAME: "127.0.0.1"}))
                paths["squid"] = (f"wss://{NAME}:{wss}", proxy.url)
                pids["squid"] = [relay.proc.pid, proxy.proc.pid]
            rates: dict[str, list[float]] = {k: [] for k in [*paths, *(f"{p} cpu" for p in paths)]}
            agents = {
                k: stack.enter_context(AgentThread(AutoConsent(), relay=r, proxy=p))
                for k, (r, p) in paths.items()
            }
            for i in range(rounds):
                for k in sorted(paths, reverse=bool(i % 2)):
                    mbps, cpu = download(agents[k], paths[k], nbytes, repeat, pids[k])
                    rates[k].append(mbps)
                    rates[f"{k} cpu"].append(cpu)
        return rates
    finally:
        relay.stop()


def child(tree: str | None, nbytes: int, repeat: int, squid: bool) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": tree} if tree else dict(os.environ)
    cmd = [sys.executable, __file__, "--rounds", "1", "--bytes", str(nbytes), "--json"]
    cmd += ["--repeat", str(repeat), *(["--squid"] if squid else [])]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, list[float]] = json.loads(out.splitlines()[-1])
    return result


def report(label: str, rates: dict[str, list[float]]) -> None:
    """One line per other path: MB/s medians, the ratio of the medians, the per-round ratios,
    and CPU ms per MB (medians) of raw and this path."""
    raw, raw_cpu = statistics.median(rates["raw"]), statistics.median(rates["raw cpu"])
    for path in (p for p in rates if p != "raw" and not p.endswith(" cpu")):
        mine, cpu = statistics.median(rates[path]), statistics.median(rates[f"{path} cpu"])
        ratios = [w / r for w, r in zip(rates[path], rates["raw"], strict=True)]
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(
            f"{label:8} {path:6} {raw:9.1f} {mine:9.1f} {mine / raw:8.2f} {spread:>11}"
            f" {raw_cpu:8.2f} {cpu:8.2f} {cpu / raw_cpu:8.2f}"
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mb", type=int, default=15)
    ap.add_argument("--bytes", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="downloads per session and path")
    ap.add_argument("--squid", action="store_true", help="also wss through squid on loopback")
    ap.add_argument("--compare", default=None, help="another tree's folder holding zvkdiag/")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    nbytes = args.bytes or args.mb * 1_000_000
    if args.json:
        print(json.dumps(one_tree(args.rounds, nbytes, args.repeat, args.squid)))
        return 0
    print(f"load average before: {os.getloadavg()}")
    if args.compare:
        trees = {"before": args.compare, "after": None}
        got: dict[str, dict[str, list[float]]] = {k: {} for k in trees}
        for i in range(args.rounds):
            for k in sorted(trees, reverse=bool(i % 2)):
                for path, rs in child(trees[k], nbytes, args.repeat, args.squid).items():
                    got[k].setdefault(path, []).extend(rs)
    else:
        got = {"this": one_tree(args.rounds, nbytes, args.repeat, args.squid)}
    print(f"{args.repeat} x {nbytes / 1e6:.0f} MB per session, {args.rounds} rounds, medians")
    print(
        f"{'tree':8} {'path':6} {'raw MB/s':>9} {'its MB/s':>9} {'its/raw':>8} {'per round':>11}"
        f" {'raw ms/MB':>8} {'its ms/MB':>8} {'its/raw':>8}"
    )
    for k, rates in got.items():
        report(k, rates)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
