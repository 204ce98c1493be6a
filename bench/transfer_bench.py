"""Download throughput: ``session.download()`` through the relay vs OpenSSH ``sftp``, same run.

What is timed
-------------
zvkdiag (relay)
    ``s.download(path, dir, progress=False)`` of a 200 MB random file, on a
    session that is already open: the ``file.download`` op (stat, the
    customer's consent, the grant), the SFTP transfer into a temporary name,
    the SHA-256 check on both sides and the rename.  The relay is a real child
    process (``python -m zvkdiag relay``).  The customer agent is a real child
    process too, but not the console CLI: a small child (this script with
    ``--agent-child``) runs ``AgentThread(AutoConsent(), ...)`` and prints its
    ID and password, so the customer's consent is answered at once by the
    test fake and no console round trip is in the figure.  The agent has its
    own process and GIL, as in a real deployment.
zvkdiag (direct)
    The same with the engineer dialling the agent directly (no relay), to
    show what the relay costs.
OpenSSH sftp
    ``sftp -b BATCH -i KEY -P PORT root@127.0.0.1`` with one ``get`` against a
    private sshd (``Subsystem sftp /usr/lib/openssh/sftp-server``) on
    127.0.0.1.  The whole process is timed; a run with an empty batch (connect,
    authenticate, start the subsystem, quit) is timed as well and its median
    subtracted, so that "net" compares transfer with transfer.  The target is
    judged against the net figure, the harder comparison for zvkdiag.
asyncssh -> sshd
    asyncssh's SFTP client (the one zvkdiag uses, same block size and request
    count) against the same sshd: our client code against a C server.

Every side copies the same file, which sits in the page cache; each download
goes to a fresh name and is deleted afterwards.  Rounds interleave the sides
(in a rotating order) so that a burst of background load hits all of them
alike.  "best" is the fastest of the n runs, less disturbed by other load;
"CPU s" is the median CPU time (user + system) of every process of that side:
the bench process (the engineer) plus relay and agent, or plus sshd and its
children (``sftp``/``ssh`` are this process's children).

Run: ``.venv/bin/python bench/transfer_bench.py [-n 5] [--mb 200]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Final, TextIO

import asyncssh
import psutil
from _common import PYTHON, Stats, machine, start_relay, table
from _sshd import CLIENT_OPTS, private_sshd

import zvkdiag
from zvkdiag.engineer import files as engineer_files

TARGET_RATIO: Final = 0.8
CHILD_START_TIMEOUT: Final = 20.0
HASH_CHUNK: Final = 1 << 20
COMMAND: Final = ".venv/bin/python bench/transfer_bench.py"
CPU_PROCS: dict[str, list[psutil.Process]] = {}  # whose CPU time each side is charged
SSH_OPTS: Final = (
    *CLIENT_OPTS,
    # root's ~/.bashrc runs `pyenv init` here; bash skips it at SHLVL >= 2
    "-o",
    "SetEnv=SHLVL=1",
)


# -- the agent child -------------------------------------------------------------------
def agent_child(mode: str, relay: str, audit_dir: str) -> None:
    """Run the real agent with AutoConsent until stdin closes (child process)."""
    from zvkdiag.consent.audit import AuditLog
    from zvkdiag.testing.fakes import AgentThread, AutoConsent

    log = AuditLog(Path(audit_dir) / "audit.jsonl", fsync=False)
    where = {"relay": relay} if mode == "relay" else {"listen": "127.0.0.1:0"}
    with AgentThread(AutoConsent(), audit_log=log, **where) as agent:
        address = agent.address if mode == "direct" else relay
        print(f"ID: {agent.session_id}\nPassword: {agent.password}\nAddress: {address}", flush=True)
        sys.stdin.read()


@contextlib.contextmanager
def agent_process(mode: str, relay: str, audit_dir: Path) -> Iterator[dict[str, str]]:
    """Start the agent child; yield its ID, Password and Address lines as a dict."""
    proc = subprocess.Popen(
        [PYTHON, __file__, "--agent-child", mode, relay or "-", str(audit_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = dict(_read_line(proc.stdout).split(": ", 1) for _ in range(3))
        info["pid"] = str(proc.pid)
        yield info
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _read_line(stream: TextIO) -> str:
    line = stream.readline()
    if not line:
        raise RuntimeError("the agent child ended before printing its ID")
    return line.strip()


# -- OpenSSH ---------------------------------------------------------------------------
def sftp_batch(port: int, key: Path, batch: Path) -> None:
    cmd = ["sftp", "-q", "-b", str(batch), *SSH_OPTS, "-i", str(key), "-P", str(port)]
    subprocess.run([*cmd, "root@127.0.0.1"], check=True, stdout=subprocess.DEVNULL)


async def asyncssh_get(port: int, key: Path, src: Path, dst: Path) -> float:
    """One asyncssh SFTP ``get`` from sshd; the connection is not timed."""
    async with (
        asyncssh.connect(
            "127.0.0.1",
            port,
            username="root",
            client_keys=[str(key)],
            known_hosts=None,
            encryption_algs=["aes256-gcm@openssh.com"],
        ) as conn,
        conn.start_sftp_client() as sftp,
    ):
        t0 = time.perf_counter()
        await sftp.get(
            str(src),
            str(dst),
            block_size=engineer_files.BLOCK_SIZE,
            max_requests=engineer_files.MAX_REQUESTS,
        )
        return time.perf_counter() - t0


# -- measurement -----------------------------------------------------------------------
def sha256_seconds(path: Path) -> float:
    t0 = time.perf_counter()
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return time.perf_counter() - t0


def cpu_seconds(procs: Iterable[psutil.Process]) -> float:
    """CPU time of these processes and of their children that have ended (user + system)."""
    return sum(sum(p.cpu_times()) for p in procs)


def timed_download(
    fn: Callable[[Path], object], dest_dir: Path, src: Path, tag: str
) -> tuple[float, float]:
    """Time ``fn(target)`` and the CPU it cost ``CPU_PROCS[tag]``; check the copy, delete it."""
    target = dest_dir / f"{tag}-{time.monotonic_ns()}"
    target.mkdir()
    c0 = cpu_seconds(CPU_PROCS[tag])
    t0 = time.perf_counter()
    fn(target)
    dt = time.perf_counter() - t0
    cpu = cpu_seconds(CPU_PROCS[tag]) - c0
    got = target / src.name
    if got.stat().st_size != src.stat().st_size:
        raise RuntimeError(f"{tag}: the copy has the wrong size")
    shutil.rmtree(target)
    return dt, cpu


def run(n: int, mb: int) -> str:
    with tempfile.TemporaryDirectory(prefix="zvkdiag-transfer-") as tmp:
        d = Path(tmp)
        for sub in ("src", "dst", "audit-relay", "audit-direct", "ssh"):
            (d / sub).mkdir()
        src = d / "src" / "payload.bin"
        with src.open("wb") as f:
            for _ in range(mb):
                f.write(os.urandom(1_000_000))
        size = src.stat().st_size
        samples: dict[str, list[float]] = {}

        def add(name: str, dt: float) -> None:
            samples.setdefault(name, []).append(dt)

        with (
            start_relay() as relay,
            agent_process("relay", relay.address, d / "audit-relay") as via_relay,
            agent_process("direct", "", d / "audit-direct") as direct,
            private_sshd(d / "ssh") as server,
            zvkdiag.connect(
                via_relay["ID"], via_relay["Password"], relay=relay.address, engineer="Bench"
            ) as s_relay,
            zvkdiag.connect(
                direct["ID"], direct["Password"], direct=direct["Address"], engineer="Bench"
            ) as s_direct,
        ):
            empty = d / "ssh" / "empty.batch"
            empty.write_text("")

            def sftp_get(target: Path) -> None:
                batch = d / "ssh" / "get.batch"
                batch.write_text(f"get {src} {target / src.name}\n")
                sftp_batch(server.port, server.client_key, batch)

            def asyncssh_sshd(target: Path) -> None:
                add(
                    "asyncssh_net",
                    asyncio.run(
                        asyncssh_get(server.port, server.client_key, src, target / src.name)
                    ),
                )

            sides: dict[str, Callable[[Path], object]] = {
                "zvkdiag_relay": lambda t: s_relay.download(str(src), t, progress=False),
                "zvkdiag_direct": lambda t: s_direct.download(str(src), t, progress=False),
                "sftp": sftp_get,
                "asyncssh": asyncssh_sshd,
            }
            me, sshd = psutil.Process(), psutil.Process(server.pid)
            CPU_PROCS.update(
                zvkdiag_relay=[
                    me,
                    psutil.Process(relay.pid),
                    psutil.Process(int(via_relay["pid"])),
                ],
                zvkdiag_direct=[me, psutil.Process(int(direct["pid"]))],
                sftp=[me, sshd],
                asyncssh=[me, sshd],
            )
            for name, fn in sides.items():  # warm-up, not counted
                timed_download(fn, d / "dst", src, name)
            order = list(sides.items())
            for r in range(n):  # rotate, so no side always follows the same one
                for name, fn in order[r % len(order) :] + order[: r % len(order)]:
                    dt, cpu = timed_download(fn, d / "dst", src, name)
                    add(name, dt)
                    add(f"{name}_cpu", cpu)
                t0 = time.perf_counter()
                sftp_batch(server.port, server.client_key, empty)
                add("sftp_connect", time.perf_counter() - t0)
                add("sha256", sha256_seconds(src))
        return report(n, size, {k: Stats(tuple(v)) for k, v in samples.items()})


def report(n: int, size: int, st: dict[str, Stats]) -> str:
    mbs = {k: size / 1e6 / (v.median_ms / 1e3) for k, v in st.items()}
    sftp_net_s = (st["sftp"].median_ms - st["sftp_connect"].median_ms) / 1e3
    mbs["sftp_net"] = size / 1e6 / sftp_net_s
    relay = mbs["zvkdiag_relay"]

    best = {k: size / 1e6 / (v.min_ms / 1e3) for k, v in st.items()}
    best["sftp_net"] = size / 1e6 / ((st["sftp"].min_ms - st["sftp_connect"].min_ms) / 1e3)

    def row(label: str, key: str, ms: float | None = None) -> list[str]:
        ms = st[key].median_ms if ms is None else ms
        ratio = f"{relay / mbs[key]:.2f}x" if not key.startswith("zvkdiag_relay") else ""
        cpu = f"{st[key + '_cpu'].median_ms / 1e3:.2f}" if key + "_cpu" in st else ""
        return [label, f"{ms:.0f}", f"{mbs[key]:.0f}", f"{best[key]:.0f}", cpu, ratio]

    rows = [
        row("zvkdiag download via relay (open session)", "zvkdiag_relay"),
        row("zvkdiag download, direct (no relay)", "zvkdiag_direct"),
        row("OpenSSH sftp -b, whole process", "sftp"),
        row("OpenSSH sftp -b, net of connect", "sftp_net", sftp_net_s * 1e3),
        row("asyncssh client -> sshd, whole get()", "asyncssh"),
        row("asyncssh client -> sshd, get() only", "asyncssh_net"),
    ]
    verdict = "met" if relay >= TARGET_RATIO * mbs["sftp_net"] else "NOT met"
    out = [
        f"Command: `{COMMAND} -n {n} --mb {size // 1_000_000}`",
        f"Machine: {machine()}",
        "",
        table(
            [
                f"download of {size / 1e6:.0f} MB (median of {n})",
                "ms",
                "MB/s",
                "best MB/s",
                "CPU s",
                "zvkdiag relay vs (median)",
            ],
            rows,
        ),
        "",
        f"sftp connect + quit (empty batch): {st['sftp_connect'].median_ms:.0f} ms; "
        f"one SHA-256 pass over the file (page cache, 1 core): {st['sha256'].median_ms:.0f} ms "
        f"({mbs['sha256']:.0f} MB/s).",
        f"Target zvkdiag via relay >= {TARGET_RATIO}x OpenSSH sftp (net): **{verdict}** "
        f"({relay / mbs['sftp_net']:.2f}x; {relay / mbs['sftp']:.2f}x of the whole sftp process).",
    ]
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--agent-child":
        agent_child(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="downloads per side (median)")
    parser.add_argument("--mb", type=int, default=200, help="file size in MB")
    args = parser.parse_args()
    print(run(args.n, args.mb))


if __name__ == "__main__":
    main()
