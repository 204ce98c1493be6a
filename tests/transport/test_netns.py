"""A company firewall that lets only port 443 out: the customer's program finds the wss way.

Two network namespaces made by the test, joined by a veth pair: the relay in
one (raw TCP on 8340 and wss on 443), the customer's program in the other,
whose nftables output chain drops every TCP packet not bound for port 443. The
program is given the relay's bare address, so it must try raw TCP first and
fall back to wss. No other address is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from zvkdiag.testing.procs import Proc
from zvkdiag.testing.tls import ThrowawayCA

TOOLS = ("ip", "nft")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in TOOLS),
    reason="needs root, iproute2 and nftables to make network namespaces",
)
NET = f"10.{200 + os.getpid() % 50}.{os.getpid() % 250}"
RELAY_IP, CUSTOMER_IP = f"{NET}.1", f"{NET}.2"


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    tag = f"zvk{os.getpid()}"
    relay_ns, customer_ns = f"{tag}r", f"{tag}c"
    try:
        _run("ip", "netns", "add", relay_ns)
        _run("ip", "netns", "add", customer_ns)
        _run("ip", "link", "add", f"{tag}a", "type", "veth", "peer", "name", f"{tag}b")
        _run("ip", "link", "set", f"{tag}a", "netns", relay_ns)
        _run("ip", "link", "set", f"{tag}b", "netns", customer_ns)
        for ns, dev, ip in ((relay_ns, f"{tag}a", RELAY_IP), (customer_ns, f"{tag}b", CUSTOMER_IP)):
            _run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            _run("ip", "-n", ns, "link", "set", dev, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        rules = (
            "table inet zvk {\n chain out {\n  type filter hook output priority 0; policy accept;\n"
            '  oifname "lo" accept\n  tcp dport != 443 drop\n }\n}\n'
        )
        subprocess.run(
            ["ip", "netns", "exec", customer_ns, "nft", "-f", "-"],
            input=rules,
            check=True,
            capture_output=True,
            text=True,
        )
        yield relay_ns, customer_ns
    finally:
        for ns in (relay_ns, customer_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_only_443_open_forces_the_wss_fallback(
    namespaces: tuple[str, str], tmp_path: Path, spawn: type[Proc]
) -> None:
    relay_ns, customer_ns = namespaces
    ca = ThrowawayCA(tmp_path, RELAY_IP)
    relay = spawn(
        "relay",
        "--listen",
        f"{RELAY_IP}:8340",
        "--listen-wss",
        f"{RELAY_IP}:443",
        "--cert",
        str(ca.cert_file),
        "--key",
        str(ca.key_file),
        prefix=("ip", "netns", "exec", relay_ns),
    )
    relay.expect("Relay listening for wss")
    customer = spawn(
        "quicksupport",
        "--ui",
        "console",
        "--lang",
        "de",
        "--relay",
        RELAY_IP,
        "--proxy",
        "none",
        env={"SSL_CERT_FILE": str(ca.ca_file)},
        prefix=("ip", "netns", "exec", customer_ns),
    )
    customer.expect(f"Route: wss {RELAY_IP}:443$")
    customer.expect(f"Verbindung über HTTPS \\(Port 443\\) zum Server {RELAY_IP}:443")
    customer.expect(r"ID: \d{3} \d{3} \d{3}")
    assert not any("Route: tcp" in line for line in customer.seen)
