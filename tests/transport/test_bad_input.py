"""Bad ways to the relay: a ``ConnectError`` subclass for the engineer, German naming the hop.

The matrix of issue 14: proxy refuses the login (407) or the way (403), proxy
not answering, TLS inspection whose CA this PC lacks, relay certificate expired.
The PAC file that throws or loops is in ``test_pac.py``. Real parts only: squid,
a TLS-inspecting CONNECT proxy on loopback, the relay with a real certificate.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import zvkdiag
from zvkdiag.consent.messages import network_text
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.inspecting_proxy import InspectingProxy
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.squid import SQUID, Squid
from zvkdiag.testing.tls import ThrowawayCA
from zvkdiag.transport.explain import network_problem

from .conftest import NAME


def _fails(relay: str, proxy: str | None = None) -> zvkdiag.ConnectError:
    with pytest.raises(zvkdiag.ConnectError) as err:
        zvkdiag.connect("123456789", "abcd-efgh", relay=relay, proxy=proxy, engineer="E")
    return err.value


def _german(exc: zvkdiag.ConnectError) -> str:
    return network_text(network_problem(exc, NAME), "de")


@pytest.fixture
def squid(wss_relay: RelayThread) -> Iterator[Squid]:
    if not os.path.exists(SQUID):
        pytest.skip("squid is not installed")
    with Squid(ports=[wss_relay.wss_port], hosts={NAME: "127.0.0.1"}) as s:
        yield s


@pytest.fixture
def inspection(tmp_path: Path, wss_relay: RelayThread) -> Iterator[InspectingProxy]:
    (tmp_path / "inspection").mkdir()
    relay_ca = Path(os.environ["SSL_CERT_FILE"])
    with InspectingProxy(
        tmp_path / "inspection", hosts={NAME: "127.0.0.1"}, upstream_ca=relay_ca
    ) as proxy:
        yield proxy


def test_proxy_refuses_the_login(squid: Squid, wss_relay: RelayThread) -> None:
    exc = _fails(f"wss://{NAME}:{wss_relay.wss_port}", squid.url.replace(":geheim@", ":falsch@"))
    assert isinstance(exc, zvkdiag.ProxyError)
    assert (exc.reason, exc.status, exc.proxy) == ("auth", 407, squid.address)
    assert "falsch" not in str(exc) and squid.address in str(exc)
    assert _german(exc).startswith(f"Der Proxy {squid.address} hat die Anmeldung abgelehnt")


def test_proxy_forbids_the_way(squid: Squid) -> None:
    exc = _fails(f"wss://{NAME}:1", squid.url)
    assert isinstance(exc, zvkdiag.ProxyError) and (exc.reason, exc.status) == ("refused", 403)
    assert _german(exc).startswith(
        f"Der Proxy {squid.address} lässt keine Verbindung zum Server {NAME}:1 zu (HTTP 403)."
    )


def test_proxy_does_not_answer(wss_relay: RelayThread) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exc = _fails(f"wss://{NAME}:{wss_relay.wss_port}", f"http://127.0.0.1:{port}")
    assert isinstance(exc, zvkdiag.ProxyError) and exc.reason == "unreachable"
    assert _german(exc).startswith(f"Der Proxy 127.0.0.1:{port} antwortet nicht.")


def test_inspection_with_an_untrusted_ca_names_the_proxy(
    inspection: InspectingProxy, wss_relay: RelayThread
) -> None:
    exc = _fails(f"wss://{NAME}:{wss_relay.wss_port}", inspection.url)
    assert isinstance(exc, zvkdiag.UntrustedCertificate)
    assert exc.proxy == inspection.address and inspection.wait_refused(1)
    assert inspection.inspected == []
    german = _german(exc)
    assert german.startswith(
        f"Die Verbindung zum Server {NAME}:{wss_relay.wss_port} über den Proxy "
        f"{inspection.address} ist nicht vertrauenswürdig"
    )
    assert "IT-Abteilung muss deren Zertifikat auf diesem PC installieren" in german


def test_inspection_whose_ca_is_installed_is_accepted(
    tmp_path: Path,
    inspection: InspectingProxy,
    wss_relay: RelayThread,
    monkeypatch: pytest.MonkeyPatch,
    consent: AutoConsent,
) -> None:
    """What IT does: install the inspection CA. TLS then opens; SPAKE2 and SSH still decide."""
    bundle = tmp_path / "trusted.pem"
    bundle.write_bytes(inspection.ca.ca_file.read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    relay = f"wss://{NAME}:{wss_relay.wss_port}"
    with AgentThread(consent, relay=relay, proxy=inspection.url) as agent:
        with zvkdiag.connect(
            agent.session_id, agent.password, relay=relay, proxy=inspection.url, engineer="Eva"
        ) as s:
            assert s.run(["echo", "hallo"]).stdout == "hallo\n"
    # both sides' tunnels (and maybe the customer's next offer, already on its way)
    assert inspection.inspected.count(f"{NAME}:{wss_relay.wss_port}") >= 2


def test_relay_certificate_expired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca = ThrowawayCA(tmp_path, "127.0.0.1", expired=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))
    with RelayThread(wss=ca.server_context()) as relay:
        exc = _fails(relay.wss_address)
    assert isinstance(exc, zvkdiag.UntrustedCertificate) and "expired" in exc.detail
    german = network_text(network_problem(exc, relay.wss_address), "de")
    assert german.startswith(
        f"Das Zertifikat des Servers 127.0.0.1:{relay.wss_port} ist abgelaufen"
    )


def test_customer_reads_the_inspection_in_german(
    inspection: InspectingProxy, wss_relay: RelayThread, spawn: type[Proc]
) -> None:
    p = spawn(
        *("quicksupport", "--ui", "console", "--lang", "de"),
        *("--relay", f"wss://{NAME}:{wss_relay.wss_port}", "--proxy", inspection.url),
        env={"SSL_CERT_FILE": os.environ["SSL_CERT_FILE"]},
    )
    p.expect(re.escape(f"über den Proxy {inspection.address} ist nicht vertrauenswürdig"))
    assert not any("Traceback" in line for line in p.seen)
