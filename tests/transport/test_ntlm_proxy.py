"""Through an NTLM (and Negotiate) proxy on loopback checked by pyspnego's server side.

The relay's name resolves only inside the proxy, so a session that reaches it
went through the proxy; the proxy records the login's rounds and connection.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import zvkdiag
from zvkdiag.consent.model import RouteChosen
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.ntlm_proxy import NtlmProxy
from zvkdiag.testing.procs import Proc

from .conftest import NAME

WRONG = "Zq9-wrong"  # not a word the German message could contain
USERS = [("FIRMA", "max", "geheim"), ("", "eva", "s3cret")]


@pytest.fixture(params=["NTLM", "Negotiate"])
def ntlm_proxy(request: pytest.FixtureRequest, wss_relay: RelayThread) -> Iterator[NtlmProxy]:
    with NtlmProxy(hosts={NAME: "127.0.0.1"}, users=USERS, scheme=request.param) as p:
        yield p


def test_session_through_an_ntlm_proxy(
    ntlm_proxy: NtlmProxy, wss_relay: RelayThread, consent: AutoConsent
) -> None:
    relay = f"wss://{NAME}:{wss_relay.wss_port}"
    agent_proxy = ntlm_proxy.url("eva", "s3cret")
    engineer_proxy = ntlm_proxy.url("FIRMA%5Cmax", "geheim")  # DOMAIN\user
    with AgentThread(consent, relay=relay, proxy=agent_proxy) as agent:
        with zvkdiag.connect(
            agent.session_id, agent.password, relay=relay, proxy=engineer_proxy, engineer="Eva"
        ) as s:
            assert len(s.run(["head", "-c", "1000000", "/dev/zero"]).stdout) == 1_000_000
    assert RouteChosen("wss", f"{NAME}:{wss_relay.wss_port}", ntlm_proxy.address) in consent.events
    target = f"{NAME}:{wss_relay.wss_port}"
    # the customer's program may already have offered its next ID: a set, not a count
    users = sorted({t.user.lower() for t in ntlm_proxy.tunnels if t.target == target})
    assert users == ["\\eva", "firma\\max"] or users == ["eva", "firma\\max"]
    # each login: none, then negotiate, then authenticate, all on one connection
    assert all(t.requests == 3 and t.scheme == ntlm_proxy.scheme for t in ntlm_proxy.tunnels)
    assert "Basic" not in ntlm_proxy.schemes_seen


def test_ntlm_is_preferred_to_basic(wss_relay: RelayThread, consent: AutoConsent) -> None:
    with NtlmProxy(hosts={NAME: "127.0.0.1"}, users=USERS, also_basic=True) as proxy:
        relay = f"wss://{NAME}:{wss_relay.wss_port}"
        with AgentThread(consent, relay=relay, proxy=proxy.url("eva", "s3cret")) as agent:
            with zvkdiag.connect(
                agent.session_id,
                agent.password,
                relay=relay,
                proxy=proxy.url("FIRMA%5Cmax", "geheim"),
                engineer="Eva",
            ) as s:
                assert s.run(["true"]).exit_status == 0
        assert {t.user.lower().lstrip("\\") for t in proxy.tunnels} == {"eva", "firma\\max"}
        assert set(proxy.schemes_seen) == {"NTLM"}


def test_wrong_ntlm_password_is_a_proxy_error(
    ntlm_proxy: NtlmProxy, wss_relay: RelayThread
) -> None:
    with pytest.raises(zvkdiag.ProxyError) as err:
        zvkdiag.connect(
            "123456789",
            "abcd-efgh",
            relay=f"wss://{NAME}:{wss_relay.wss_port}",
            proxy=ntlm_proxy.url("FIRMA%5Cmax", WRONG),
            engineer="E",
        )
    assert (err.value.reason, err.value.status) == ("auth", 407)
    assert err.value.proxy == ntlm_proxy.address
    assert ntlm_proxy.address in str(err.value) and "not accepted" in str(err.value)
    assert WRONG not in str(err.value)
    assert ntlm_proxy.refused and not ntlm_proxy.tunnels  # the proxy saw the login and refused it


def test_customer_reads_the_wrong_ntlm_password_in_german(
    ntlm_proxy: NtlmProxy, wss_relay: RelayThread, spawn: type[Proc]
) -> None:
    p = spawn(
        "quicksupport",
        "--ui",
        "console",
        "--lang",
        "de",
        "--relay",
        f"wss://{NAME}:{wss_relay.wss_port}",
        "--proxy",
        ntlm_proxy.url("eva", WRONG),
        env={"SSL_CERT_FILE": os.environ["SSL_CERT_FILE"]},
    )
    p.expect(f"Der Proxy {ntlm_proxy.address} hat die Anmeldung abgelehnt")
    assert not any("Traceback" in line or WRONG in line for line in p.seen)
    assert ntlm_proxy.refused
