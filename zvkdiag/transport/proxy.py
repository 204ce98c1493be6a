"""Which HTTP proxy applies, and the CONNECT dialogue with it (pure: no I/O).

The dialogue is a small machine: send ``CONNECT``; a 200 opens the tunnel; a
407 is answered once with a login, on the same connection when the proxy keeps
it open: NTLM or Negotiate (``pyspnego``) when offered, else Basic. NTLM takes
two rounds that must share one connection (negotiate token, the proxy's
challenge in a second 407, authenticate token). The credentials come from the
proxy URL (``DOMAIN\\user`` or ``user``); on Windows without them, NTLM and
Negotiate use the logged-in user's (SSPI). Anything else ends in a
``ProxyError`` that names the proxy and never the password.
"""

from __future__ import annotations

import base64
import sys
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from zvkdiag._errors import ProxyError, ZvkdiagError

if TYPE_CHECKING:
    import spnego  # loaded when a proxy asks for NTLM or Negotiate, not at start

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
    """CONNECT through ``proxy`` to ``target`` (``host:port``), with a login when asked.

    ``state`` names the request last prepared: ``start`` (none yet), ``plain``
    (no login), ``basic``, ``ntlm-negotiate`` and ``ntlm-authenticate`` (the two
    rounds of NTLM or Negotiate), then ``open`` or ``failed``.
    """

    def __init__(self, proxy: ProxyURL, target: str, *, platform: str = sys.platform) -> None:
        self.proxy = proxy
        self.target = target
        self.platform = platform
        self.state = "start"
        self.scheme = ""  # the login scheme in use, as sent: "Basic", "NTLM" or "Negotiate"
        self._authorization: str | None = None
        self._context: spnego.ContextProxy | None = None

    @property
    def connection_bound(self) -> bool:
        """True when the next request must go on the connection that carried the last one."""
        return self.state == "ntlm-authenticate"

    def request(self) -> bytes:
        """The next CONNECT request to send."""
        if self.state == "start":
            self.state = "plain"
        elif self.state in ("open", "failed"):
            raise RuntimeError(f"no request to send in state {self.state}")
        lines = [
            f"CONNECT {self.target} HTTP/1.1",
            f"Host: {self.target}",
            f"User-Agent: {USER_AGENT}",
            "Proxy-Connection: keep-alive",
        ]
        if self._authorization is not None:
            lines.append(f"Proxy-Authorization: {self._authorization}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def answer(self, head: ResponseHead) -> bool:
        """True when the tunnel is open; False when ``request()`` has the next try.

        Raises ``ProxyError`` when the proxy will not let us through.
        """
        if 200 <= head.status < 300:
            self.state = "open"
            return True
        try:
            if head.status == 407 and self._next_login(head):
                return False
        except ProxyError:
            self.state = "failed"
            raise
        error = self._error(head)
        self.state = "failed"
        raise error

    def lost_connection(self) -> ProxyError:
        """The error when the proxy closes the connection in the middle of an NTLM login."""
        self.state = "failed"
        return self._auth_error(
            f"it closed the connection in the middle of the {self.scheme} login "
            "(that login must stay on one connection)"
        )

    def _next_login(self, head: ResponseHead) -> bool:
        offered = {word.lower(): rest for word, rest in _challenges(head)}
        if self.state == "plain":
            scheme = self._choose(offered)
            if scheme == "basic":
                cred = f"{self.proxy.username}:{self.proxy.password or ''}".encode()
                self.state, self.scheme = "basic", "Basic"
                self._authorization = f"Basic {base64.b64encode(cred).decode()}"
                return True
            if scheme in ("ntlm", "negotiate"):
                self._start_context(scheme)
                return True
        elif self.state == "ntlm-negotiate":
            challenge = offered.get(self.scheme.lower())
            if challenge:
                self._step(challenge)
                return True
        return False

    def _choose(self, offered: Mapping[str, str]) -> str | None:
        """NTLM or Negotiate before Basic (which sends the password in clear)."""
        if self.proxy.username is not None:
            order: tuple[str, ...] = ("ntlm", "negotiate", "basic")
        elif self.platform == "win32":  # the logged-in user's login through SSPI
            order = ("negotiate", "ntlm")
        else:
            order = ()
        return next((s for s in order if s in offered), None)

    def _start_context(self, scheme: str) -> None:
        import spnego
        import spnego.exceptions

        name = "NTLM" if scheme == "ntlm" else "Negotiate"
        self.scheme = name
        try:
            if self.proxy.username is not None:
                self._context = spnego.client(
                    self.proxy.username,
                    self.proxy.password or "",
                    hostname=self.proxy.host,
                    service="HTTP",
                    protocol=scheme,
                )
            else:
                self._context = spnego.client(
                    hostname=self.proxy.host, service="HTTP", protocol=scheme
                )
            token = self._context.step()
        except (spnego.exceptions.SpnegoError, ValueError) as exc:
            raise self._auth_error(f"the {name} login could not start here ({exc})") from exc
        if not token:
            raise self._auth_error(f"the {name} login could not start here (no token)")
        self._set("ntlm-negotiate", token)

    def _step(self, challenge: str) -> None:
        import spnego.exceptions

        assert self._context is not None
        try:
            token = self._context.step(base64.b64decode(challenge, validate=True))
        except (spnego.exceptions.SpnegoError, ValueError) as exc:
            raise self._auth_error(
                f"its {self.scheme} challenge was not understood ({exc})"
            ) from exc
        if not token:
            raise self._auth_error(f"its {self.scheme} challenge ended the login early")
        self._set("ntlm-authenticate", token)

    def _set(self, state: str, token: bytes) -> None:
        self.state = state
        self._authorization = f"{self.scheme} {base64.b64encode(token).decode()}"

    def _auth_error(self, why: str) -> ProxyError:
        where = self.proxy.hostport
        return ProxyError(
            f"The proxy {where} refused the way to {self.target}: {why}.",
            address=self.target,
            proxy=where,
            reason="auth",
            status=407,
        )

    def _error(self, head: ResponseHead) -> ProxyError:
        if head.status == 407:
            offered = ", ".join(word for word, _ in _challenges(head)) or "no method named"
            if self.state == "plain":
                why = f"it wants a login ({offered}) and none was given"
            elif self.scheme:
                why = f"the user name or password for it was not accepted ({self.scheme})"
            else:
                why = "the user name or password for it was not accepted"
            return self._auth_error(why)
        where = self.proxy.hostport
        return ProxyError(
            f"The proxy {where} refused the way to {self.target}: "
            f"{head.status} {head.reason}.".rstrip(),
            address=self.target,
            proxy=where,
            reason="refused",
            status=head.status,
        )


def _challenges(head: ResponseHead) -> list[tuple[str, str]]:
    """The schemes a 407 offers, each with its token or parameters ("" if none).

    One header may hold several challenges (``Negotiate, NTLM``); a comma-separated
    part whose first word holds ``=`` is a parameter of the challenge before it.
    """
    offered: list[tuple[str, str]] = []
    for value in head.get_all("proxy-authenticate"):
        for part in value.split(","):
            word, _, rest = part.strip().partition(" ")
            if word and "=" not in word:
                offered.append((word, rest.strip()))
    return offered
