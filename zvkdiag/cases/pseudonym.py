"""Consistent pseudonyms for personal identifiers in everything the case store keeps.

Policy (see ``docs/cases.md``): nothing that goes into the case store carries
a raw user name, host name, IP or MAC address, e-mail address, Windows
account SID or user-profile path.  Each is replaced by a token such as
``user-3fa9c21b`` derived with HMAC-SHA256 under a secret key that lives in
the store root (``0600``).  Hence:

* the same identifier gets the same token in every case of one store, so
  "how many cases involve this PC?" still has an answer;
* another store (another key) gives other tokens, so two exports cannot be
  joined on them;
* whoever holds the key can *test* a guess ("is user-3fa9c21b anna?") but
  cannot list the names: this is pseudonymisation, not anonymisation.

Hints that help analysis and identify nobody stay visible: the IP version and
class (``ip4-private-…``, ``ip6-public-…``), the relative ID of a Windows SID
(``sid-…-500`` is the built-in administrator), and well-known values
(loopback and multicast addresses, ``SYSTEM``, ``root``, ``C:\\Users\\Public``)
are kept verbatim.

Columns can be declared with a :class:`Kind`; undeclared string columns get
the free-text pass (regular expressions plus every user and host name learned
so far).  Free text cannot be perfect: a name the store never saw as a user or
host value, written in prose, stays.  Declared values that do not parse as
their kind fall back to the free-text pass, never to "keep".
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import stat
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from zvkdiag._errors import CaseStoreError
from zvkdiag._osflags import O_BINARY
from zvkdiag.cases.atomic import fsync_dir, temp_sibling

__all__ = [
    "DEFAULT_COLUMN_KINDS",
    "KEY_FILE",
    "Kind",
    "Pseudonymiser",
    "load_or_create_key",
]

KEY_FILE = ".zvk-pseudonym.key"
KEY_BYTES = 32
TOKEN_HEX = 8
"""32 bits: collisions stay unlikely up to tens of thousands of distinct values."""
MIN_LEARNED = 3
"""Shorter learned names would hit ordinary words in free text."""


class Kind(enum.StrEnum):
    """What a column (or a JSON key) holds, and so how it is pseudonymised."""

    USER = "user"
    HOST = "host"
    IP = "ip"
    MAC = "mac"
    EMAIL = "email"
    SID = "sid"
    TEXT = "text"
    KEEP = "keep"


def _kinds(kind: Kind, *names: str) -> dict[str, Kind]:
    return dict.fromkeys(names, kind)


DEFAULT_COLUMN_KINDS: Mapping[str, Kind] = {
    **_kinds(Kind.USER, "user", "username", "user_name", "owner", "account", "login"),
    **_kinds(Kind.HOST, "host", "hostname", "host_name", "computer", "computer_name", "fqdn"),
    **_kinds(Kind.IP, "ip", "ip_address", "address", "local_address", "remote_address"),
    **_kinds(Kind.IP, "laddr", "raddr", "gateway", "dns_server"),
    **_kinds(Kind.MAC, "mac", "mac_address"),
    **_kinds(Kind.EMAIL, "email", "mail", "e_mail"),
    **_kinds(Kind.SID, "sid", "user_sid"),
    **_kinds(Kind.KEEP, "version", "display_version"),
}
"""Used when a column (lower-cased) is not declared explicitly.  Only exact names."""

_NON_PERSONAL_ACCOUNTS = frozenset(
    {
        "system",
        "local service",
        "network service",
        "localservice",
        "networkservice",
        "root",
        "daemon",
        "nobody",
        "administrator",
        "guest",
        "defaultaccount",
    }
)
_NON_PERSONAL_DOMAINS = frozenset(
    {"nt authority", "builtin", "nt service", "window manager", "font driver host"}
)
_NON_PERSONAL_PROFILES = frozenset(
    {"public", "default", "default user", "all users", "defaultuser0", "shared"}
)
_LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_KEEP_MACS = frozenset({"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})

_TOKEN = re.compile(r"(?:user|host|name|email|mac|sid|ip[46]-[a-z]+)-[0-9a-f]{8}(?:-\d+)?")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_NAME = r"[^\\/:*?\"<>|\s'`]+"
_WIN_PROFILE = re.compile(
    r"(?i)(\b[a-z]:(?:\\+|/)(?:users|documents and settings)(?:\\+|/))"
    rf"({_NAME}(?: {_NAME})*(?=\\|/)|{_NAME})"
)
_POSIX_PROFILE = re.compile(rf"(?<![\w.])(/home/|/Users/)({_NAME})")
_SID = re.compile(r"\bS-1-\d+(?:-\d+){1,14}\b")
_DOMAIN_SID = re.compile(r"S-1-5-21-(\d+-\d+-\d+)(?:-(\d+))?")
_MAC = re.compile(r"(?<![\w:-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![\w:-])")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?"
    r"(?:%[\w.-]+)?(?![\w:])"
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def load_or_create_key(root: Path) -> bytes:
    """Read the store's secret key, creating it (``0600``, race-safe) on first use."""
    path = root / KEY_FILE
    if not path.exists():
        _create_key(path)
    return _read_key(path)


def _create_key(path: Path) -> None:
    tmp = temp_sibling(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_BINARY, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created the key first: use theirs
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)


def _read_key(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CaseStoreError(
            f"The pseudonym key {path} is readable by others (mode {mode:04o}); "
            f"restrict it with 'chmod 600 {path}' before using this case store."
        )
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise CaseStoreError(f"The pseudonym key {path} is damaged ({len(key)} bytes).")
    return key


def _parse_ip(text: str) -> IPAddress | None:
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped  # the same host gets the same token either way
    return addr


def _ip_class(addr: IPAddress) -> str | None:
    """The hint kept in the token; None means "identifies nobody, keep verbatim"."""
    if addr.is_loopback or addr.is_unspecified or addr.is_multicast:
        return None
    if addr == ipaddress.IPv4Address("255.255.255.255"):
        return None
    if addr.is_link_local:
        return "linklocal"
    return "private" if addr.is_private else "public"


class Pseudonymiser:
    """Replace personal identifiers with stable HMAC tokens under one key.

    Parameters
    ----------
    key
        The store's secret (:func:`load_or_create_key`).  Tokens are only
        comparable between pseudonymisers with the same key.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise CaseStoreError("A pseudonym key needs at least 16 bytes.")
        self._key = key
        self._known: dict[str, str] = {}  # casefolded learned name -> its token
        self._compiled: tuple[re.Pattern[str], dict[str, str]] | None = None
        self._learning = threading.Lock()  # the session thread and the notebook share one

    def __repr__(self) -> str:
        return f"Pseudonymiser(<key>, known={len(self._known)})"

    # -- one value of a known kind ------------------------------------------

    def token(self, kind: str, normalised: str) -> str:
        """``<kind>-<8 hex>``: HMAC-SHA256 of kind and value, so kinds never collide."""
        mac = hmac.new(self._key, f"{kind}\0{normalised}".encode(), hashlib.sha256)
        return f"{kind}-{mac.hexdigest()[:TOKEN_HEX]}"

    def value(self, value: str, kind: Kind | str = Kind.TEXT) -> str:
        """Pseudonymise one string declared as ``kind``."""
        handler: dict[Kind, Callable[[str], str]] = {
            Kind.USER: self.user,
            Kind.HOST: self.host,
            Kind.IP: self.ip,
            Kind.MAC: self.mac,
            Kind.EMAIL: self.email,
            Kind.SID: self.text,
            Kind.TEXT: self.text,
            Kind.KEEP: str,
        }
        return handler[Kind(kind)](value)

    def user(self, value: str) -> str:
        """An account name; ``DOMAIN\\name`` keeps its shape, a UPN counts as e-mail."""
        name = value.strip()
        if not name or _TOKEN.fullmatch(name) or name.casefold() in _NON_PERSONAL_ACCOUNTS:
            return value
        if _EMAIL.fullmatch(name):
            return self.email(name)
        if "\\" in name:
            domain, _, account = name.rpartition("\\")
            if domain.casefold() in _NON_PERSONAL_DOMAINS:
                return value
            return f"{self.host(domain)}\\{self.user(account)}"
        return self.token("user", name.casefold())

    def host(self, value: str) -> str:
        """A host name (case-insensitive) or, if it parses as one, an IP address."""
        name = value.strip().rstrip(".")
        if not name or _TOKEN.fullmatch(name) or name.casefold() in _LOCAL_HOSTS:
            return value
        addr = _parse_ip(name)
        if addr is not None:
            return self._ip(addr, value)
        return self.token("host", name.casefold())

    def ip(self, value: str) -> str:
        """An address; anything else (``ip:port``, CIDR) goes through the free-text pass."""
        addr = _parse_ip(value.strip())
        return self.text(value) if addr is None else self._ip(addr, value)

    def mac(self, value: str) -> str:
        if not _MAC.fullmatch(value.strip()):
            return self.text(value)
        norm = value.strip().lower().replace("-", ":")
        return value if norm in _KEEP_MACS else self.token("mac", norm)

    def email(self, value: str) -> str:
        if not _EMAIL.fullmatch(value.strip()):
            return self.text(value)
        return self.token("email", value.strip().casefold())

    def _ip(self, addr: IPAddress, original: str) -> str:
        hint = _ip_class(addr)
        if hint is None:
            return original
        return self.token(f"ip{addr.version}-{hint}", addr.compressed)

    def _sid(self, sid: str) -> str:
        domain = _DOMAIN_SID.fullmatch(sid)
        if domain is not None:
            rid = f"-{domain.group(2)}" if domain.group(2) else ""
            return self.token("sid", domain.group(1)) + rid
        # S-1-12-1-… (Azure AD accounts) name a person; other short SIDs are well known.
        return self.token("sid", sid) if sid.startswith("S-1-12-") else sid

    # -- free text -------------------------------------------------------------

    def text(self, value: str) -> str:
        """Every pattern, then every learned user and host name, in one string."""
        if not value or _TOKEN.fullmatch(value):
            return value
        out = _EMAIL.sub(lambda m: self.email(m.group(0)), value)
        out = _WIN_PROFILE.sub(lambda m: m.group(1) + self._profile(m.group(2)), out)
        out = _POSIX_PROFILE.sub(lambda m: m.group(1) + self._profile(m.group(2)), out)
        out = _SID.sub(lambda m: self._sid(m.group(0)), out)
        out = _MAC.sub(lambda m: self.mac(m.group(0)), out)
        out = _IPV6.sub(self._ip_match, out)
        out = _IPV4.sub(self._ip_match, out)
        return self._known_names(out)

    def _profile(self, name: str) -> str:
        return name if name.casefold() in _NON_PERSONAL_PROFILES else self.user(name)

    def _ip_match(self, match: re.Match[str]) -> str:
        addr = _parse_ip(match.group(0))
        return match.group(0) if addr is None else self._ip(addr, match.group(0))

    def _known_names(self, text: str) -> str:
        compiled = self._compiled or self._compile_known()
        if compiled is None:
            return text
        pattern, known = compiled

        def swap(match: re.Match[str]) -> str:
            found = match.group(0)
            # IGNORECASE folds more simply than casefold(); never fall back to the raw name
            return (
                known.get(found.casefold())
                or known.get(found.lower())
                or self.token("name", found.casefold())
            )

        return pattern.sub(swap, text)

    def _compile_known(self) -> tuple[re.Pattern[str], dict[str, str]] | None:
        with self._learning:
            if self._compiled is None and self._known:
                names = sorted(self._known, key=len, reverse=True)  # longest first at each spot
                alternation = "|".join(re.escape(n) for n in names)
                pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)
                self._compiled = (pattern, dict(self._known))
            return self._compiled

    # -- learning ----------------------------------------------------------------

    def learn(self, kind: Kind | str, values: Iterable[object]) -> None:
        """Remember user or host names so the free-text pass replaces them too.

        Only kept in memory (a stored list of raw names would defeat the
        purpose), so learn the customer's names at the start of a session,
        before free text is stored.
        """
        kind = Kind(kind)
        if kind not in (Kind.USER, Kind.HOST):
            return
        for raw in values:
            if isinstance(raw, str):
                self._learn_one(kind, raw.strip())

    def _learn_one(self, kind: Kind, name: str) -> None:
        if kind is Kind.USER and "\\" in name:
            domain, _, name = name.rpartition("\\")
            if domain.casefold() in _NON_PERSONAL_DOMAINS:
                return
            self._learn_one(Kind.HOST, domain)
        folded = name.casefold()
        if len(folded) < MIN_LEARNED or folded.isdigit() or folded in self._known:
            return
        if _TOKEN.fullmatch(name) or _parse_ip(name) is not None or "@" in name:
            return
        token = self.user(name) if kind is Kind.USER else self.host(name)
        if token != name:  # non-personal values pseudonymise to themselves
            with self._learning:
                self._known[folded] = token
                self._compiled = None

    # -- structures --------------------------------------------------------------

    def json(
        self,
        obj: object,
        *,
        keep_keys: Iterable[str] = (),
        key_kinds: Mapping[str, Kind] = DEFAULT_COLUMN_KINDS,
    ) -> object:
        """Pseudonymise every string in a JSON-like structure.

        Values under ``keep_keys`` stay as they are (structure such as a hash
        chain, or embedded images); a key found in ``key_kinds`` (compared
        lower-cased) declares the kind of its value.
        """
        keep = frozenset(keep_keys)
        self._learn_json(obj, key_kinds)
        return self._walk(obj, Kind.TEXT, keep, key_kinds)

    def _learn_json(self, obj: object, key_kinds: Mapping[str, Kind]) -> None:
        if isinstance(obj, Mapping):
            for key, val in obj.items():
                kind = key_kinds.get(str(key).lower())
                if kind in (Kind.USER, Kind.HOST) and isinstance(val, str):
                    self.learn(kind, [val])
                self._learn_json(val, key_kinds)
        elif isinstance(obj, list | tuple):
            for item in obj:
                self._learn_json(item, key_kinds)

    def _walk(
        self, obj: object, kind: Kind, keep: frozenset[str], key_kinds: Mapping[str, Kind]
    ) -> object:
        if isinstance(obj, str):
            return self.value(obj, kind)
        if isinstance(obj, Mapping):
            return {
                k: v
                if k in keep
                else self._walk(v, key_kinds.get(str(k).lower(), Kind.TEXT), keep, key_kinds)
                for k, v in obj.items()
            }
        if isinstance(obj, list | tuple):
            return [self._walk(item, kind, keep, key_kinds) for item in obj]
        return obj
