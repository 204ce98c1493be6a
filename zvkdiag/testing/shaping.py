"""Network namespaces for tests and benchmarks, and a slow line between two of them.

``NamespacePair`` makes two namespaces joined by a veth pair (customer side
and engineer side, each with one address) and always removes them again.
``ShapedLink`` adds the line: ``tbf`` on both veth ends limits the rate, and
a ``delayline`` forwarder in the engineer's namespace adds the delay (this
kernel has no ``netem``).  ``entered(ns)`` moves the calling thread into a
namespace for a while, so an in-process agent or session (and every thread
it starts meanwhile) makes its sockets there.

Only namespaces made here are touched; names carry the process id.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "SHAPES",
    "LineShape",
    "NamespacePair",
    "ShapedLink",
    "can_make_namespaces",
    "entered",
]

CLONE_NEWNET: Final = 0x40000000
NETNS_DIR: Final = Path("/run/netns")
START_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class LineShape:
    """A line's rate (kbit/s, both directions) and round-trip time (seconds)."""

    name: str
    rate_kbit: int
    rtt: float

    @property
    def rate_bytes(self) -> float:
        """Bytes per second."""
        return self.rate_kbit * 1000 / 8


SHAPES: Final = {
    s.name: s for s in (LineShape("4mbit-60ms", 4000, 0.060), LineShape("1mbit-120ms", 1000, 0.120))
}


def can_make_namespaces() -> bool:
    """Root, ``ip`` and ``tc``: what the helpers here need."""
    return os.geteuid() == 0 and all(shutil.which(t) for t in ("ip", "tc"))


def _run(*cmd: str, stdin: str | None = None) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True, input=stdin)


def _setns(fd: int) -> None:
    """Move the calling thread into the network namespace open as ``fd``.

    ``os.setns`` arrived in Python 3.12; before it, the one libc call.
    """
    setns = getattr(os, "setns", None)
    if setns is not None:
        setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextlib.contextmanager
def entered(ns: str) -> Iterator[None]:
    """Run the calling thread in namespace ``ns`` inside the block.

    Threads started inside the block stay in ``ns`` for good; the calling
    thread returns to its own namespace afterwards.
    """
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(NETNS_DIR / ns, os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


class NamespacePair:
    """Two namespaces (``customer``, ``engineer``) joined by a veth pair on ``NET.0/24``.

    Parameters
    ----------
    tag
        Prefix of the namespace and device names (default: from the process id).
    """

    def __init__(self, tag: str | None = None) -> None:
        pid = os.getpid()
        self.tag = tag or f"zvk{pid}"
        net = f"10.{200 + pid % 50}.{pid % 250}"
        self.engineer, self.customer = f"{self.tag}e", f"{self.tag}c"
        self.engineer_dev, self.customer_dev = f"{self.tag}a", f"{self.tag}b"
        self.engineer_ip, self.customer_ip = f"{net}.1", f"{net}.2"
        self._made: list[str] = []

    def prefix(self, ns: str) -> tuple[str, ...]:
        """The command prefix that runs a program in ``ns``."""
        return ("ip", "netns", "exec", ns)

    def run(self, ns: str, *cmd: str, stdin: str | None = None) -> None:
        """Run ``cmd`` in ``ns``; raises ``CalledProcessError`` when it fails."""
        _run(*self.prefix(ns), *cmd, stdin=stdin)

    def open(self) -> None:
        for ns in (self.engineer, self.customer):
            _run("ip", "netns", "add", ns)
            self._made.append(ns)
        _run(
            "ip",
            "link",
            "add",
            self.engineer_dev,
            "type",
            "veth",
            "peer",
            "name",
            self.customer_dev,
        )
        _run("ip", "link", "set", self.engineer_dev, "netns", self.engineer)
        _run("ip", "link", "set", self.customer_dev, "netns", self.customer)
        for ns, dev, ip in self.ends():
            _run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            _run("ip", "-n", ns, "link", "set", dev, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")

    def ends(self) -> tuple[tuple[str, str, str], ...]:
        """(namespace, device, address) of both veth ends."""
        return (
            (self.engineer, self.engineer_dev, self.engineer_ip),
            (self.customer, self.customer_dev, self.customer_ip),
        )

    def close(self) -> None:
        """Delete the namespaces (the veth pair goes with them); safe to call twice."""
        while self._made:
            subprocess.run(["ip", "netns", "del", self._made.pop()], capture_output=True)

    def __enter__(self) -> NamespacePair:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ShapedLink(NamespacePair):
    """A ``NamespacePair`` whose veth carries ``shape``: tbf rate limit and a user-space delay.

    The delay lives in ``delayline`` forwarders in the engineer's namespace
    (``forward``): traffic between the two sides must go through one of them
    to see the round trip; traffic that does not sees the rate only.
    """

    def __init__(self, shape: LineShape, tag: str | None = None) -> None:
        super().__init__(tag)
        self.shape = shape
        self._forwarders: list[subprocess.Popen[str]] = []

    def open(self) -> None:
        super().open()
        burst = max(3200, int(self.shape.rate_bytes / 100))  # a small bucket: a line, not a burst
        for ns, dev, _ in self.ends():
            # segmentation offloads off: a 64 KB GSO packet would exceed the bucket
            self.run(ns, "ip", "link", "set", dev, "gso_max_size", "1500")
            self.run(
                ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                "rate", f"{self.shape.rate_kbit}kbit", "burst", str(burst), "latency", "100ms",
            )  # fmt: skip

    def forward(self, listen: tuple[str, int], target: tuple[str, int]) -> tuple[str, int]:
        """Start a delay forwarder in the engineer's namespace; returns its address."""
        command = [
            *self.prefix(self.engineer),
            *(sys.executable, "-m", "zvkdiag.testing.delayline"),
            *("--listen", f"{listen[0]}:{listen[1]}", "--to", f"{target[0]}:{target[1]}"),
            *("--delay", str(self.shape.rtt / 2)),
        ]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self._forwarders.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.match(r"listening (\S+):(\d+)", line)
        if found is None:
            raise RuntimeError(f"the delay forwarder did not start: {line!r}")
        return found.group(1), int(found.group(2))

    def close(self) -> None:
        while self._forwarders:
            proc = self._forwarders.pop()
            proc.terminate()
            try:
                proc.wait(START_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        super().close()
