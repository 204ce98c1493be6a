"""PAC files: one served on loopback chooses the real squid; broken ones give a clear error.

The relay's name resolves only inside squid (``hosts_file``), so a session that
opens proves the PAC file's choice was followed.
"""

from __future__ import annotations

import gc
import http.server
import os
import re
import threading
import time
from collections.abc import Iterator

import pytest

import zvkdiag
from zvkdiag._errors import PacError
from zvkdiag.consent.messages import network_text
from zvkdiag.consent.model import RouteChosen
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.procs import Proc
from zvkdiag.testing.squid import SQUID, Squid
from zvkdiag.transport import pac as pacmod
from zvkdiag.transport.explain import network_problem
from zvkdiag.transport.pac import WPAD, pac_for, parse_pac_answer
from zvkdiag.transport.proxy import ProxyURL

from .conftest import NAME

needs_squid = pytest.mark.skipif(not os.path.exists(SQUID), reason="squid is not installed")


class PacServer:
    """A tiny HTTP server on 127.0.0.1 that serves ``files`` (path → PAC text)."""

    def __init__(self, files: dict[str, str]) -> None:
        outer = self
        self.files = files
        self.hits: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ns-proxy-autoconfig")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def open_squid(wss_relay: RelayThread) -> Iterator[Squid]:
    with Squid(ports=[wss_relay.wss_port], hosts={NAME: "127.0.0.1"}, login=False) as s:
        yield s


@pytest.fixture
def pac_server() -> Iterator[PacServer]:
    server = PacServer({})
    yield server
    server.close()


def _choose(proxy: str) -> str:
    return (
        "function FindProxyForURL(url, host) {\n"
        '  if (shExpMatch(host, "*.zvk.test") && url.indexOf("https://") == 0)\n'
        f'    return "PROXY {proxy}; DIRECT";\n'
        '  return "DIRECT";\n'
        "}\n"
    )


THROWS = 'function FindProxyForURL(url, host) { throw new Error("kaputt"); }'
LOOPS = "function FindProxyForURL(url, host) { while (true) {} }"


@needs_squid
def test_a_pac_file_on_loopback_chooses_squid(
    open_squid: Squid, wss_relay: RelayThread, pac_server: PacServer, consent: AutoConsent
) -> None:
    pac_server.files["/proxy.pac"] = _choose(open_squid.address)
    pac = pac_server.base + "/proxy.pac"
    relay = f"wss://{NAME}:{wss_relay.wss_port}"
    with AgentThread(consent, relay=relay, pac=pac) as agent:
        with zvkdiag.connect(
            agent.session_id, agent.password, relay=relay, pac=pac, engineer="Eva"
        ) as s:
            assert s.run(["echo", "hallo"]).stdout.strip() == "hallo"
    assert RouteChosen("wss", f"{NAME}:{wss_relay.wss_port}", open_squid.address) in consent.events
    # The proof that both sides went through squid: the relay's name resolves only inside it
    # (test_squid.py checks this machine cannot resolve it) and the agent reported the route.
    # Squid logs a tunnel only once it has closed, and the agent's may still be closing;
    # a carrier socket the resumable stream leaked closes only when collected (see #14).
    gc.collect()
    deadline = time.monotonic() + 30
    while (log := open_squid.access_log()).count("CONNECT ") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert log.count(f"CONNECT {NAME}:{wss_relay.wss_port}") >= 1, log
    assert pac_server.hits.count("/proxy.pac") >= 2


@needs_squid
def test_without_the_pac_file_the_name_is_unknown(
    open_squid: Squid, wss_relay: RelayThread, pac_server: PacServer
) -> None:
    pac_server.files["/direct.pac"] = 'function FindProxyForURL(u, h) { return "DIRECT"; }'
    with pytest.raises(zvkdiag.ConnectError) as err:
        zvkdiag.connect(
            "123456789",
            "abcd-efgh",
            relay=f"wss://{NAME}:{wss_relay.wss_port}",
            pac=pac_server.base + "/direct.pac",
            engineer="E",
        )
    assert not isinstance(err.value, (PacError, zvkdiag.ProxyError))


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/throws.pac", THROWS, "script"),
        ("/loops.pac", LOOPS, "timeout"),
        ("/socks.pac", 'function FindProxyForURL(u, h) { return "SOCKS 1.2.3.4:1080"; }', "answer"),
        ("/missing.pac", None, "download"),
    ],
)
def test_a_broken_pac_file_is_a_pac_error(
    pac_server: PacServer,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    body: str | None,
    reason: str,
) -> None:
    if reason == "timeout":  # only the loop is cut short: a busy machine starts the child slowly
        monkeypatch.setattr(pacmod, "PAC_RUN_TIMEOUT", 1.0)
    if body is not None:
        pac_server.files[path] = body
    pac = pac_server.base + path
    with pytest.raises(PacError) as err:
        zvkdiag.connect("123456789", "abcd-efgh", relay=f"wss://{NAME}", pac=pac, engineer="E")
    assert err.value.reason == reason and err.value.pac == pac
    assert pac in str(err.value)
    assert isinstance(err.value, zvkdiag.ConnectError)
    german = network_text(network_problem(err.value, NAME), "de")
    assert f"Proxy-Konfigurationsdatei (PAC) {pac}" in german


def test_a_pac_file_that_cannot_be_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pac = f"http://127.0.0.1:{port}/proxy.pac"
    with pytest.raises(PacError) as err:
        zvkdiag.connect("123456789", "abcd-efgh", relay=f"wss://{NAME}", pac=pac, engineer="E")
    assert err.value.reason == "download"
    assert "kann nicht geladen werden" in network_text(network_problem(err.value, NAME), "de")


def test_customer_reads_a_throwing_pac_file_in_german(
    pac_server: PacServer, spawn: type[Proc]
) -> None:
    pac_server.files["/throws.pac"] = THROWS
    pac = pac_server.base + "/throws.pac"
    p = spawn(
        "quicksupport", "--ui", "console", "--lang", "de", "--relay", f"wss://{NAME}", "--pac", pac
    )
    p.expect(re.escape(f"Die Proxy-Konfigurationsdatei (PAC) {pac} ist fehlerhaft"))
    assert not any("Traceback" in line for line in p.seen)


def test_parse_pac_answer() -> None:
    def parse(answer: str) -> ProxyURL | None:
        return parse_pac_answer(answer, pac="p", address="a")

    assert parse("PROXY p.firma.de:8080; DIRECT") == ProxyURL("p.firma.de", 8080)
    assert parse("SOCKS s:1080; PROXY p:3128") == ProxyURL("p", 3128)
    assert parse("DIRECT") is None
    assert parse(" direct ; PROXY p:1") is None
    with pytest.raises(PacError):
        parse("")


def test_which_pac_file_applies() -> None:
    assert pac_for(explicit_proxy=None, explicit_pac="http://x/p.pac", env={}) == "http://x/p.pac"
    assert pac_for(explicit_proxy="http://p:1", explicit_pac="http://x/p.pac", env={}) is None
    assert pac_for(explicit_proxy=None, explicit_pac="none", env={}, platform="win32") is None
    assert pac_for(explicit_proxy=None, explicit_pac=None, env={"HTTPS_PROXY": "p:1"}) is None
    assert pac_for(explicit_proxy=None, explicit_pac=None, env={}, platform="linux") == WPAD
