"""The pure core of the way to the relay: addresses, route plans, proxy choice, CONNECT."""

from __future__ import annotations

import base64

import pytest

from zvkdiag._errors import ProxyError, ZvkdiagError
from zvkdiag.transport.address import RelayAddress, Route, parse_relay, plan_routes
from zvkdiag.transport.proxy import (
    ConnectDialogue,
    ProxyURL,
    bypassed,
    parse_head,
    parse_proxy,
    proxy_for,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8340", RelayAddress("tcp", "127.0.0.1", 8340)),
        ("relay.zvk.example", RelayAddress("auto", "relay.zvk.example")),
        ("wss://relay.zvk.example", RelayAddress("wss", "relay.zvk.example")),
        ("wss://relay.zvk.example:8443/", RelayAddress("wss", "relay.zvk.example", 8443)),
        ("[::1]:9", RelayAddress("tcp", "::1", 9)),
        ("wss://[::1]", RelayAddress("wss", "::1")),
    ],
)
def test_parse_relay(text: str, expected: RelayAddress) -> None:
    assert parse_relay(text) == expected


@pytest.mark.parametrize(
    "text", ["https://relay", "wss://relay/path", "relay:0", "relay:http", ":8340", "wss://u@r"]
)
def test_parse_relay_refuses(text: str) -> None:
    with pytest.raises(ZvkdiagError):
        parse_relay(text)


def test_str_names_the_default_port() -> None:
    assert str(parse_relay("wss://r")) == "wss://r:443"
    assert str(parse_relay("r:1")) == "r:1"


PROXY = ProxyURL("proxy.firma.de", 8080)


def test_a_bare_name_tries_tcp_then_wss_then_the_proxy() -> None:
    routes = plan_routes(parse_relay("relay.zvk.example"), proxy=PROXY)
    assert routes == [
        Route("tcp", "relay.zvk.example", 8340),
        Route("wss", "relay.zvk.example", 443),
        Route("wss", "relay.zvk.example", 443, PROXY),
    ]
    assert routes[2].describe() == "wss relay.zvk.example:443 via proxy proxy.firma.de:8080"
    assert len(plan_routes(parse_relay("relay.zvk.example"), proxy=None)) == 2


def test_named_carriers_take_one_route() -> None:
    assert plan_routes(parse_relay("r:9"), proxy=PROXY) == [Route("tcp", "r", 9)]
    assert plan_routes(parse_relay("wss://r"), proxy=PROXY) == [Route("wss", "r", 443, PROXY)]


def test_parse_proxy_keeps_credentials_out_of_the_name() -> None:
    p = parse_proxy("http://max%40firma:geh%20eim@proxy.firma.de:3128")
    assert (p.host, p.port, p.username, p.password) == (
        "proxy.firma.de",
        3128,
        "max@firma",
        "geh eim",
    )
    assert "geh" not in repr(p) and p.hostport == "proxy.firma.de:3128"
    assert parse_proxy("proxy:8080") == ProxyURL("proxy", 8080)
    with pytest.raises(ZvkdiagError):
        parse_proxy("socks5://proxy:1080")


@pytest.mark.parametrize(
    ("host", "no_proxy", "expected"),
    [
        ("relay.zvk.example", "zvk.example", True),
        ("relay.zvk.example", ".zvk.example", True),
        ("relay.zvk.example", "*.zvk.example", True),
        ("relay.zvk.example", "other.example,localhost", False),
        ("notzvk.example", "zvk.example", False),
        ("anything", "*", True),
        ("relay.zvk.example", "relay.zvk.example:443", True),
    ],
)
def test_no_proxy(host: str, no_proxy: str, expected: bool) -> None:
    assert bypassed(host, no_proxy) is expected


def test_proxy_for_prefers_the_setting_then_the_environment() -> None:
    env = {"HTTPS_PROXY": "http://env-proxy:3128", "NO_PROXY": "intern.firma.de"}
    assert proxy_for("r", explicit="p:1", env=env, platform="linux") == ProxyURL("p", 1)
    assert proxy_for("r", explicit="none", env=env, platform="linux") is None
    assert proxy_for("r", explicit=None, env=env, platform="linux") == ProxyURL("env-proxy", 3128)
    assert proxy_for("x.intern.firma.de", explicit=None, env=env, platform="linux") is None
    assert proxy_for("r", explicit=None, env={}, platform="linux") is None


def _head(status: int, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status} Reason", *headers]) + "\r\n\r\n").encode()


def test_connect_opens_on_200() -> None:
    d = ConnectDialogue(PROXY, "relay:443")
    assert d.request().startswith(b"CONNECT relay:443 HTTP/1.1\r\nHost: relay:443\r\n")
    assert d.answer(parse_head(_head(200)))


def test_connect_answers_407_once_with_basic() -> None:
    d = ConnectDialogue(ProxyURL("p", 1, "max", "pw"), "relay:443")
    d.request()
    head = parse_head(_head(407, 'Proxy-Authenticate: Basic realm="x"', "Content-Length: 5"))
    assert head.keeps_connection and head.content_length == 5
    assert d.answer(head) is False
    assert b"Proxy-Authorization: Basic " + base64.b64encode(b"max:pw") in d.request()
    with pytest.raises(ProxyError) as err:
        d.answer(head)
    assert err.value.reason == "auth" and err.value.proxy == "p:1"
    assert "password" in str(err.value)


def test_connect_without_credentials_or_basic_fails_at_once() -> None:
    d = ConnectDialogue(PROXY, "relay:443")
    d.request()
    with pytest.raises(ProxyError, match="wants a login \\(Negotiate\\)"):
        d.answer(parse_head(_head(407, "Proxy-Authenticate: Negotiate")))
    d = ConnectDialogue(PROXY, "relay:443")
    d.request()
    with pytest.raises(ProxyError) as err:
        d.answer(parse_head(_head(403)))
    assert (err.value.reason, err.value.status) == ("refused", 403)


def test_parse_head_refuses_what_is_not_http() -> None:
    with pytest.raises(ValueError):
        parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")
    assert not parse_head(_head(407, "Connection: close", "Content-Length: 3")).keeps_connection


def test_connect_prefers_ntlm_to_basic_and_keeps_the_connection() -> None:
    d = ConnectDialogue(ProxyURL("p", 1, "FIRMA\\max", "pw"), "relay:443", platform="linux")
    d.request()
    offer = parse_head(_head(407, 'Proxy-Authenticate: Basic realm="x", NTLM', "Content-Length: 0"))
    assert d.answer(offer) is False
    first = d.request()
    assert b"Proxy-Authorization: NTLM TlRMTVNTUAAB" in first  # an NTLM negotiate message
    assert not d.connection_bound
    with pytest.raises(ProxyError, match="not accepted \\(NTLM\\)") as err:
        d.answer(parse_head(_head(407, "Proxy-Authenticate: NTLM", "Content-Length: 0")))
    assert (err.value.reason, err.value.status) == ("auth", 407)


def test_ntlm_without_credentials_is_windows_only() -> None:
    d = ConnectDialogue(PROXY, "relay:443", platform="linux")
    d.request()
    with pytest.raises(ProxyError, match="wants a login \\(NTLM, Negotiate\\) and none"):
        d.answer(
            parse_head(_head(407, "Proxy-Authenticate: NTLM", "Proxy-Authenticate: Negotiate"))
        )
