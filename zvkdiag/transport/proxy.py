"""Which HTTP proxy applies, and the CONNECT dialogue with it (pure: no I/O).

The dialogue is a small machine: send ``CONNECT``; a 200 opens the tunnel; a
407 that offers Basic is answered once with the credentials from the proxy URL,
on the same connection when the proxy keeps it open; anything else ends in a
``ProxyError`` that names the proxy.
"""

from __future__ import annotations

import base64
import sys
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from zvkdiag._errors import ProxyError, ZvkdiagError

__all__ = [
    "MAX_BODY",
    "MAX_HEAD",
    "ConnectDialogue",
    "ProxyURL",
    "ResponseHead",
    "bypassed",
    "parse_head",
    "parse_proxy",
    "proxy_for",
]

MAX_HEAD: Final = 16 * 1024  # an HTTP response head from the proxy
MAX_BODY: Final = 64 * 1024  # the error page of a 407 that we read to keep the connection
DEFAULT_PROXY_PORT: Final = 8080
USER_AGENT: Final = "zvkdiag"


@dataclass(frozen=True)
class ProxyURL:
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def hostport(self) -> str:
        """How the customer and the engineer see the proxy named (never with the password)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_proxy(url: str) -> ProxyURL:
    """``http://[user:password@]host[:port]`` (a bare ``host:port`` is taken as http)."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme != "http":
        raise ZvkdiagError(f"proxy {url!r}: only http:// proxies are supported")
    try:
        port = parts.port or DEFAULT_PROXY_PORT
    except ValueError:
        raise ZvkdiagError(f"proxy {url!r} has no valid port") from None
    if not parts.hostname:
        raise ZvkdiagError(f"proxy {url!r} names no host")
    user = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return ProxyURL(parts.hostname, port, user, password)


def bypassed(host: str, no_proxy: str) -> bool:
    """``NO_PROXY`` as curl reads it: ``*``, exact names, and domain suffixes (``.firma.de``)."""
    host = host.lower().strip("[]").rstrip(".")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name = entry.split(":", 1)[0] if entry.count(":") == 1 else entry.strip("[]")
        name = name.lstrip(".").lstrip("*").lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def proxy_for(
    host: str, *, explicit: str | None, env: Mapping[str, str], platform: str = sys.platform
) -> ProxyURL | None:
    """The proxy to reach ``host`` through: ``--proxy``, else the environment, else Windows'.

    ``explicit`` may be ``"none"`` (or ``"direct"``) to use no proxy at all.
    """
    if explicit is not None:
        if explicit.strip().lower() in ("none", "direct", ""):
            return None
        return parse_proxy(explicit)
    no_proxy = env.get("no_proxy", env.get("NO_PROXY", ""))
    if bypassed(host, no_proxy):
        return None
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        if env.get(name):
            return parse_proxy(env[name])
    if platform == "win32":  # WinINet's per-user setting (PAC not read here)
        registry = urllib.request.getproxies_registry()  # type: ignore[attr-defined]
        value = registry.get("https")
        if value and not urllib.request.proxy_bypass_registry(host):  # type: ignore[attr-defined]
            return parse_proxy(str(value))
    return None


@dataclass(frozen=True)
class ResponseHead:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]

    @property
    def content_length(self) -> int:
        values = self.get_all("content-length")
        return int(values[0]) if values and values[0].isdigit() else 0

    @property
    def keeps_connection(self) -> bool:
        tokens = {
            v.strip().lower()
            for h in ("connection", "proxy-connection")
            for v in ",".join(self.get_all(h)).split(",")
        }
        return "close" not in tokens and bool(self.get_all("content-length"))


def parse_head(raw: bytes) -> ResponseHead:
    """An HTTP/1.x response head (status line and headers, ending in an empty line)."""
    try:
        text = raw.decode("latin-1")
        status_line, *lines = text.split("\r\n")
        version, status, *reason = status_line.split(" ", 2)
        if not version.startswith("HTTP/1.") or not status.isdigit():
            raise ValueError(status_line)
        headers = []
        for line in lines:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise ValueError(line)
            headers.append((name.strip().lower(), value.strip()))
    except ValueError as exc:
        raise ValueError(f"not an HTTP response: {exc}") from None
    return ResponseHead(int(status), reason[0] if reason else "", tuple(headers))


class ConnectDialogue:
    """CONNECT through ``proxy`` to ``target`` (``host:port``), with Basic when asked."""

    def __init__(self, proxy: ProxyURL, target: str) -> None:
        self.proxy = proxy
        self.target = target
        self.state = "start"  # start -> sent -> sent-basic -> open | failed

    def request(self) -> bytes:
        """The next CONNECT request to send."""
        lines = [
            f"CONNECT {self.target} HTTP/1.1",
            f"Host: {self.target}",
            f"User-Agent: {USER_AGENT}",
            "Proxy-Connection: keep-alive",
        ]
        if self.state == "start":
            self.state = "sent"
        elif self.state == "sent":
            assert self.proxy.username is not None
            cred = f"{self.proxy.username}:{self.proxy.password or ''}".encode()
            lines.append(f"Proxy-Authorization: Basic {base64.b64encode(cred).decode()}")
            self.state = "sent-basic"
        else:
            raise RuntimeError(f"no request to send in state {self.state}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def answer(self, head: ResponseHead) -> bool:
        """True when the tunnel is open; False when ``request()`` has the next try.

        Raises ``ProxyError`` when the proxy will not let us through.
        """
        if 200 <= head.status < 300:
            self.state = "open"
            return True
        if head.status == 407 and self.state == "sent" and self._can_basic(head):
            return False
        error = self._error(head)
        self.state = "failed"
        raise error

    def _can_basic(self, head: ResponseHead) -> bool:
        offered = [v.split(" ", 1)[0].lower() for v in head.get_all("proxy-authenticate")]
        return self.proxy.username is not None and "basic" in offered

    def _error(self, head: ResponseHead) -> ProxyError:
        where = self.proxy.hostport
        if head.status == 407:
            offered = ", ".join(v.split(" ", 1)[0] for v in head.get_all("proxy-authenticate"))
            why = (
                "the user name or password for it was not accepted"
                if self.state == "sent-basic"
                else f"it wants a login ({offered or 'no method named'}) and none was given"
            )
            return ProxyError(
                f"The proxy {where} refused the way to {self.target}: {why}.",
                address=self.target,
                proxy=where,
                reason="auth",
                status=407,
            )
        return ProxyError(
            f"The proxy {where} refused the way to {self.target}: "
            f"{head.status} {head.reason}.".rstrip(),
            address=self.target,
            proxy=where,
            reason="refused",
            status=head.status,
        )
