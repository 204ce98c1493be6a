"""Through a real squid on loopback, with Basic login; the relay's name resolves only inside squid.

``relay.zvk.test`` is in squid's ``hosts_file`` and nowhere else, so a session
that reaches it proves its bytes went through the proxy.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

import zvkdiag
from zvkdiag.consent.model import RouteChosen
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.squid import SQUID, Squid

from .conftest import NAME

pytestmark = pytest.mark.skipif(not os.path.exists(SQUID), reason="squid is not installed")


@pytest.fixture
def squid(wss_relay: RelayThread) -> Iterator[Squid]:
    with Squid(ports=[wss_relay.wss_port], hosts={NAME: "127.0.0.1"}) as s:
        yield s


def test_the_name_resolves_only_inside_squid() -> None:
    with pytest.raises(OSError):
        socket.getaddrinfo(NAME, 443)


def test_session_through_squid_with_basic_login(
    squid: Squid, wss_relay: RelayThread, consent: AutoConsent
) -> None:
    relay = f"wss://{NAME}:{wss_relay.wss_port}"
    with AgentThread(consent, relay=relay, proxy=squid.url) as agent:
        with zvkdiag.connect(
            agent.session_id, agent.password, relay=relay, proxy=squid.url, engineer="Eva"
        ) as s:
            assert len(s.run(["head", "-c", "1000000", "/dev/zero"]).stdout) == 1_000_000
    assert RouteChosen("wss", f"{NAME}:{wss_relay.wss_port}", squid.address) in consent.events
    assert any(line.startswith("Route: wss") and "via proxy" in line for line in agent.out.lines())
    wanted = f"CONNECT {NAME}:{wss_relay.wss_port}"
    # squid logs a tunnel once it has closed; the engineer's has, the agent's may still be
    # closing (the name resolving only inside squid is the proof for both)
    deadline = time.monotonic() + 10
    while squid.access_log().count(wanted) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert squid.access_log().count(wanted) >= 1


def test_the_proxy_comes_from_the_environment(
    squid: Squid, wss_relay: RelayThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", squid.url)
    relay = f"wss://{NAME}:{wss_relay.wss_port}"
    with AgentThread(AutoConsent(), relay=relay) as agent:
        with zvkdiag.connect(agent.session_id, agent.password, relay=relay, engineer="E") as s:
            assert s.run(["true"]).exit_status == 0
    monkeypatch.setenv("NO_PROXY", "zvk.test")
    with pytest.raises(zvkdiag.ConnectError) as err:
        zvkdiag.connect("123456789", "abcd-efgh", relay=relay, engineer="E")
    assert not isinstance(err.value, zvkdiag.ProxyError)  # went direct, and the name is unknown


def test_customer_reads_the_wrong_proxy_password_in_german(
    squid: Squid, wss_relay: RelayThread, spawn: type[Proc]
) -> None:
    wrong = squid.url.replace(":geheim@", ":falsch@")
    p = spawn(
        "quicksupport",
        "--ui",
        "console",
        "--lang",
        "de",
        "--relay",
        f"wss://{NAME}:{wss_relay.wss_port}",
        "--proxy",
        wrong,
        env={"SSL_CERT_FILE": os.environ["SSL_CERT_FILE"]},
    )
    p.expect(f"Der Proxy {squid.address} hat die Anmeldung abgelehnt")
    assert not any("Traceback" in line for line in p.seen)
