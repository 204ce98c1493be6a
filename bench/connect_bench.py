"""Connect time: ``zvkdiag.connect()`` through the relay vs OpenSSH ``ssh ... true``, same run.

What is timed
-------------
zvkdiag
    ``zvkdiag.connect(id, password, relay=...)`` until it returns: relay
    handshake, SPAKE2 with key confirmation, sealed key exchange, SSH with
    pinned keys, and the customer's consent to the session (answered at once
    by ``AutoConsent``, an honest fake).  The relay is a real child process
    (``python -m zvkdiag relay``); the agent runs in this process on a
    background loop (``AgentThread``), so the engineer's and the customer's
    Python share one GIL, which a real deployment does not.  Separately: the
    first ``s.run(["true"])`` of each session and ``close()``.
OpenSSH
    ``ssh -o BatchMode=yes ... root@127.0.0.1 true`` against a private sshd
    on 127.0.0.1 with a temporary config, host key and client key: process
    start, key exchange, public-key auth, a session channel running ``true``.

Both sides run at once and take turns, one connection each, so background load
falls on both alike.

Run: ``.venv/bin/python bench/connect_bench.py [-n 50]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import psutil
from _common import Stats, machine, start_relay, table
from _sshd import CLIENT_OPTS, private_sshd

import zvkdiag
from zvkdiag.testing.fakes import AgentThread, AutoConsent

TARGET_MS: Final = 50.0
WARMUP: Final = 3
REOFFER_TIMEOUT: Final = 10.0
COMMAND: Final = ".venv/bin/python bench/connect_bench.py"


# -- zvkdiag -----------------------------------------------------------------------
def _relay_connections(relay_pid: int) -> int:
    conns = psutil.Process(relay_pid).net_connections(kind="tcp")
    return sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED)


def _wait_reoffered(agent: AgentThread, old_password: str, relay_pid: int) -> None:
    """Until the agent rotated its password and offered itself to the relay again.

    The next ``connect()`` must not be charged for the agent's re-offer: the
    relay would hold the engineer in "waiting" until the offer arrives.
    """
    deadline = time.monotonic() + REOFFER_TIMEOUT
    while time.monotonic() < deadline:
        if agent.password != old_password and _relay_connections(relay_pid) == 1:
            return
        time.sleep(0.005)
    raise RuntimeError("the agent did not offer itself again after the session")


class ZvkdiagSide:
    """One agent behind one relay; ``once()`` times connect, first run and close."""

    def __init__(self, relay_address: str, relay_pid: int, agent: AgentThread) -> None:
        self.relay_address = relay_address
        self.relay_pid = relay_pid
        self.agent = agent
        self.samples: dict[str, list[float]] = {"connect": [], "first_run": [], "close": []}

    def once(self, keep: bool) -> None:
        password = self.agent.password
        t0 = time.perf_counter()
        session = zvkdiag.connect(
            self.agent.session_id, password, relay=self.relay_address, engineer="Bench Engineer"
        )
        t1 = time.perf_counter()
        result = session.run(["true"])
        t2 = time.perf_counter()
        session.close()
        t3 = time.perf_counter()
        if result.exit_status != 0:
            raise RuntimeError(f"`true` failed on the agent: {result}")
        if keep:
            for name, dt in (("connect", t1 - t0), ("first_run", t2 - t1), ("close", t3 - t2)):
                self.samples[name].append(dt)
        _wait_reoffered(self.agent, password, self.relay_pid)

    def stats(self) -> dict[str, Stats]:
        out = {k: Stats(tuple(v)) for k, v in self.samples.items()}
        parts = zip(*self.samples.values(), strict=True)
        out["total"] = Stats(tuple(sum(p) for p in parts))
        return out


# -- OpenSSH -----------------------------------------------------------------------
# Variants of the OpenSSH peer.  root's ~/.bashrc here runs `pyenv init`
# (~170 ms), and bash reads ~/.bashrc when sshd starts it; SHLVL=1 makes bash
# skip that (it only does so at shell level < 2), so the second variant is
# OpenSSH's own cost.  OpenSSH 9.2 negotiates sntrup761x25519 by default.
SSH_VARIANTS: Final = {
    "ssh ... true (as in the issue)": [],
    "ssh ... true, root's .bashrc skipped": ["-o", "SetEnv=SHLVL=1"],
    "ssh ... true, .bashrc skipped, curve25519 KEX": [
        "-o",
        "SetEnv=SHLVL=1",
        "-o",
        "KexAlgorithms=curve25519-sha256",
    ],
}


def ssh_command(port: int, key: Path, extra: Sequence[str] = ()) -> list[str]:
    return [
        "ssh",
        *CLIENT_OPTS,
        "-i",
        str(key),
        "-p",
        str(port),
        *extra,
        "root@127.0.0.1",
        "true",
    ]


def bench(n: int) -> tuple[dict[str, Stats], dict[str, Stats]]:
    """Both sides up at once, one zvkdiag and one OpenSSH connection (each variant) in turn."""
    ssh_samples: dict[str, list[float]] = {k: [] for k in SSH_VARIANTS}
    with (
        start_relay() as relay,
        AgentThread(AutoConsent(), relay=relay.address) as agent,
        tempfile.TemporaryDirectory(prefix="zvkdiag-sshd-") as tmp,
        private_sshd(Path(tmp)) as sshd,
    ):
        z = ZvkdiagSide(relay.address, relay.pid, agent)
        argvs = {
            k: ssh_command(sshd.port, sshd.client_key, extra) for k, extra in SSH_VARIANTS.items()
        }
        for i in range(WARMUP + n):
            z.once(keep=i >= WARMUP)
            for name, argv in argvs.items():
                t0 = time.perf_counter()
                subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
                if i >= WARMUP:
                    ssh_samples[name].append(time.perf_counter() - t0)
    return z.stats(), {k: Stats(tuple(v)) for k, v in ssh_samples.items()}


# -- report ------------------------------------------------------------------------
def report(z: dict[str, Stats], ssh: dict[str, Stats], n: int) -> str:
    conn = z["connect"]
    verdict = "met" if conn.median_ms <= TARGET_MS else "MISSED"
    issue_peer = next(iter(ssh.values()))

    def row(name: str, s: Stats, ratio: str = "") -> list[str]:
        return [name, f"{s.median_ms:.1f}", f"{s.p90_ms:.1f}", f"{s.min_ms:.1f}", ratio]

    rows = [
        row("zvkdiag connect() (target <= 50 ms)", conn),
        row("zvkdiag first run(['true'])", z["first_run"]),
        row("zvkdiag close()", z["close"]),
        row("zvkdiag connect + run(true) + close", z["total"]),
    ]
    for name, s in ssh.items():
        c, t = conn.median_ms / s.median_ms, z["total"].median_ms / s.median_ms
        rows.append(row(f"OpenSSH {name}", s, f"{c:.2f}x / {t:.2f}x"))
    head = [
        f"what (n={n} each)",
        "median ms",
        "p90 ms",
        "min ms",
        "zvkdiag connect / total vs this",
    ]
    return "\n".join(
        [
            f"command: {COMMAND} -n {n}",
            f"machine: {machine()}",
            "",
            table(head, rows),
            "",
            f"target connect() <= {TARGET_MS:.0f} ms: {verdict} "
            f"(median {conn.median_ms:.1f} ms; "
            f"{conn.median_ms / issue_peer.median_ms:.2f}x `ssh ... true`)",
        ]
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=50, help="timed repetitions per side (default 50)")
    args = p.parse_args()
    z, ssh = bench(args.n)
    print(report(z, ssh, args.n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
