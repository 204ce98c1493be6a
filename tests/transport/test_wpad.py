"""WPAD over DNS: the PAC file found at ``wpad.<dns-suffix>`` chooses the proxy.

The network test makes one network namespace with its own ``resolv.conf``
(``ip netns exec`` mounts ``/etc/netns/NAME/resolv.conf``) whose name server,
web server (``wpad.dat``), squid and relay all live inside it. The relay's name
is unknown to that name server and known only to squid (``hosts_file``), so a
customer that gets an ID went through the proxy the WPAD file named.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from zvkdiag.testing.procs import Proc
from zvkdiag.testing.squid import SQUID, Squid
from zvkdiag.testing.tls import ThrowawayCA
from zvkdiag.testing.wpadnet import answer, question
from zvkdiag.transport import wpad
from zvkdiag.transport.pac import WPAD, pac_for, proxy_from_pac
from zvkdiag.transport.wpad import dns_suffixes, wpad_urls

from .conftest import NAME

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


@pytest.mark.parametrize(
    ("suffix", "asked"),
    [
        ("abt.firma.de", ["wpad.abt.firma.de", "wpad.firma.de"]),
        ("firma.de", ["wpad.firma.de"]),
        ("abt.firma.co.uk", ["wpad.abt.firma.co.uk", "wpad.firma.co.uk"]),
        ("x.abt.firma.test", ["wpad.x.abt.firma.test", "wpad.abt.firma.test", "wpad.firma.test"]),
        ("FIRMA.DE.", ["wpad.firma.de"]),
        ("kunde.github.io", ["wpad.kunde.github.io"]),
        # a public suffix itself, or a single label: nothing is safe to ask
        ("co.uk", []),
        ("de", []),
        ("github.io", []),
        ("test", []),
        ("intern", []),
        ("192.0.2.3", []),
        ("", []),
    ],
)
def test_wpad_never_asks_above_the_registrable_domain(suffix: str, asked: list[str]) -> None:
    assert wpad_urls(suffix) == [f"http://{n}/wpad.dat" for n in asked]


def test_no_url_names_a_public_suffix() -> None:
    for suffix in ("a.b.firma.co.uk", "pc.abt.firma.test", "a.b.c.d.e.kunde.github.io"):
        hosts = [u.split("/")[2].removeprefix("wpad.") for u in wpad_urls(suffix)]
        assert hosts and all(wpad._registrable(h) is not None for h in hosts)
        assert hosts[-1] == wpad._registrable(suffix)


def test_dns_suffixes_from_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# generated\nnameserver 192.0.2.53\ndomain alt.firma.de\nsearch abt.firma.de. firma.de\n"
    )
    assert dns_suffixes(resolv_conf=conf, platform="linux") == ["abt.firma.de", "firma.de"]
    conf.write_text("nameserver 192.0.2.53\n")
    assert dns_suffixes(resolv_conf=conf, platform="linux") == []
    assert dns_suffixes(resolv_conf=tmp_path / "missing", platform="linux") == []
    assert dns_suffixes(platform="win32", fqdn="pc17.abt.firma.de") == ["abt.firma.de"]
    assert dns_suffixes(platform="win32", fqdn="pc17") == []


def test_wpad_only_when_nothing_else_names_a_proxy() -> None:
    assert pac_for(explicit_proxy=None, explicit_pac=None, env={}, platform="linux") == WPAD
    assert pac_for(explicit_proxy="none", explicit_pac=None, env={}) is None
    assert pac_for(explicit_proxy=None, explicit_pac="none", env={}) is None
    assert pac_for(explicit_proxy=None, explicit_pac=None, env={"https_proxy": "p:1"}) is None
    assert pac_for(explicit_proxy=None, explicit_pac=None, env={"NO_PROXY": "*"}) is None


def test_a_relay_on_this_pc_never_looks_for_wpad(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    async def discover(address: str, suffixes: list[str] | None = None) -> None:
        asked.append(address)

    monkeypatch.setattr(wpad, "discover", discover)
    assert asyncio.run(proxy_from_pac(WPAD, "127.0.0.1", 443)) is None
    assert asyncio.run(proxy_from_pac(WPAD, "localhost", 443)) is None
    assert asked == []
    assert asyncio.run(proxy_from_pac(WPAD, NAME, 443)) is None
    assert asked == [f"{NAME}:443"]


def test_no_wpad_anywhere_means_no_proxy() -> None:
    # ".invalid" never resolves (RFC 6761): the walk asks and finds nothing
    assert asyncio.run(wpad.discover("r:443", ["abt.firma.invalid"])) is None


def test_the_test_name_server_answers_a_and_nxdomain() -> None:
    def query(name: str, qtype: int) -> bytes:
        labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
        return (
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
            + labels
            + b"\0"
            + bytes([0, qtype, 0, 1])
        )

    names = {"wpad.firma.test": "192.0.2.7"}
    assert question(query("WPAD.firma.test", 1))[:2] == ("wpad.firma.test", 1)
    known = answer(query("wpad.firma.test", 1), names)
    assert (
        known[:2] == b"\x12\x34" and known[3] & 0x0F == 0 and known.endswith(bytes([192, 0, 2, 7]))
    )
    assert answer(query("wpad.test", 1), names)[3] & 0x0F == 3
    assert answer(query("wpad.firma.test", 28), names)[6:8] == b"\0\0"


# --- the company network in a namespace ------------------------------------------------

TOOLS = ("ip",)
needs_netns = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in TOOLS) or not os.path.exists(SQUID),
    reason="needs root, iproute2 and squid to make a network namespace with its own DNS",
)
NET = f"10.{150 + os.getpid() % 50}.{os.getpid() % 250}"
IP = f"{NET}.1"
PROXY_NAME = "proxy.firma.test"
PAC = (
    "function FindProxyForURL(url, host) {\n"
    '  if (shExpMatch(host, "*.zvk.test")) return "PROXY ' + PROXY_NAME + ':3128";\n'
    '  return "DIRECT";\n'
    "}\n"
)


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


class Company:
    """The namespace: its name, its ``resolv.conf`` and the line prefix to run inside it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = ("ip", "netns", "exec", name)
        self.resolv = Path("/etc/netns") / name / "resolv.conf"
        self.servers: Proc | None = None

    def search(self, suffix: str) -> None:
        """Takes effect for processes started afterwards (``ip netns exec`` mounts it)."""
        self.resolv.write_text(f"nameserver {IP}\nsearch {suffix}\noptions timeout:1 attempts:2\n")


@pytest.fixture
def company(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Company]:
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    net = Company(f"zvk{os.getpid()}w")
    procs: list[Proc] = []
    try:
        _run("ip", "netns", "add", net.name)
        net.resolv.parent.mkdir(parents=True, exist_ok=True)
        _run("ip", "-n", net.name, "link", "set", "lo", "up")
        _run("ip", "-n", net.name, "addr", "add", f"{IP}/32", "dev", "lo")
        pac = tmp_path / "wpad.dat"
        pac.write_text(PAC)
        names = ("wpad.firma.test", PROXY_NAME, "wpad.test")  # wpad.test: a trap never to ask
        servers = Proc(
            "--ip",
            IP,
            *(f"--name={n}" for n in names),
            "--pac",
            str(pac),
            prefix=net.prefix,
            module="zvkdiag.testing.wpadnet",
        )
        procs.append(servers)
        servers.expect("listening http")
        servers.expect("listening dns")
        net.servers = servers
        yield net
    finally:
        for p in procs:
            p.stop()
        subprocess.run(["ip", "netns", "del", net.name], capture_output=True)
        shutil.rmtree(net.resolv.parent, ignore_errors=True)


def _asked(company: Company) -> list[str]:
    """The lines the name and web servers printed so far."""
    servers = company.servers
    assert servers is not None
    while not servers.lines.empty():
        servers.seen.append(servers.lines.get_nowait())
    return servers.seen


@pytest.fixture
def relay_in(company: Company, tmp_path: Path, spawn: type[Proc]) -> ThrowawayCA:
    (tmp_path / "ca").mkdir()
    ca = ThrowawayCA(tmp_path / "ca", NAME)
    relay = spawn(
        "relay",
        "--listen-wss",
        f"{IP}:443",
        "--cert",
        str(ca.cert_file),
        "--key",
        str(ca.key_file),
        prefix=company.prefix,
    )
    relay.expect("Relay listening for wss")
    return ca


def _customer(spawn: type[Proc], company: Company, ca: ThrowawayCA) -> Proc:
    """The customer's program in the namespace, given the relay's name and nothing else."""
    return spawn(
        *("quicksupport", "--ui", "console", "--lang", "de", "--relay", f"wss://{NAME}"),
        env={"SSL_CERT_FILE": str(ca.ca_file)},
        prefix=company.prefix,
    )


@needs_netns
def test_wpad_over_dns_chooses_the_proxy(
    company: Company, relay_in: ThrowawayCA, spawn: type[Proc]
) -> None:
    company.search("abt.firma.test")
    with Squid(
        ports=[443],
        hosts={NAME: IP},
        login=False,
        listen=IP,
        port=3128,
        prefix=company.prefix,
    ) as squid:
        customer = _customer(spawn, company, relay_in)
        customer.expect(f"Verbindung über Proxy {PROXY_NAME}:3128", timeout=30)
        customer.expect(r"ID: \d{3} \d{3} \d{3}")
        customer.stop()
        assert squid.proc.poll() is None
    asked = _asked(company)
    # the walk: the own suffix first, then one label up, and the file from the name found
    assert asked.index("dns wpad.abt.firma.test A") < asked.index("dns wpad.firma.test A")
    assert "http wpad.firma.test /wpad.dat" in asked
    assert not any(line.startswith("dns wpad.test ") for line in asked), asked


@needs_netns
def test_wpad_never_asks_the_top_level_domain(
    company: Company, relay_in: ThrowawayCA, spawn: type[Proc]
) -> None:
    # no wpad.abt.other.test, no wpad.other.test; wpad.test would answer, and must not be asked
    company.search("abt.other.test")
    customer = _customer(spawn, company, relay_in)
    customer.expect(f"Der Server wss://{NAME} ist nicht erreichbar", timeout=30)
    customer.stop()
    asked = _asked(company)
    assert "dns wpad.abt.other.test A" in asked and "dns wpad.other.test A" in asked
    assert not any(line.startswith("dns wpad.test ") for line in asked), asked
    assert not any(line.startswith("http ") for line in asked), "\n".join(asked)
