"""A company firewall that lets only port 443 out: the customer's program finds the wss way.

Two network namespaces made by the test, joined by a veth pair: the relay in
one (raw TCP on 8340 and wss on 443), the customer's program in the other,
whose nftables output chain drops every TCP packet not bound for port 443. The
program is given the relay's bare address, so it must try raw TCP first and
fall back to wss. No other address is touched.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from zvkdiag.testing.procs import Proc
from zvkdiag.testing.shaping import NamespacePair, can_make_namespaces
from zvkdiag.testing.tls import ThrowawayCA

pytestmark = pytest.mark.skipif(
    not can_make_namespaces() or not shutil.which("nft"),
    reason="needs root, iproute2 and nftables to make network namespaces",
)
RELAY_IP = NamespacePair().engineer_ip  # the relay's end of the veth pair


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    with NamespacePair() as pair:
        rules = (
            "table inet zvk {\n chain out {\n  type filter hook output priority 0; policy accept;\n"
            '  oifname "lo" accept\n  tcp dport != 443 drop\n }\n}\n'
        )
        pair.run(pair.customer, "nft", "-f", "-", stdin=rules)
        yield pair.engineer, pair.customer


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
