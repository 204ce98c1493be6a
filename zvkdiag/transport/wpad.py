"""WPAD over DNS: find the company's PAC file at ``http://wpad.<dns-suffix>/wpad.dat``.

When nothing names a proxy or a PAC file, the program looks for one the way
browsers do with "automatically detect settings": for each DNS suffix of this
PC (``search``/``domain`` in ``/etc/resolv.conf``; elsewhere the domain part of
the computer's full name), ``wpad.<suffix>``, then one label shorter, and so
on, down to the organisation's registrable domain and never above it.

That bound is the classic WPAD hole: a PC in ``abt.firma.co.uk`` must never ask
``wpad.co.uk`` (anyone can register it and serve a PAC file naming their own
proxy). The bound comes from the Public Suffix List (``publicsuffixlist``, the
list ``pypac`` uses); a suffix the list does not know (``.test``,
``.internal``, ``.local``) counts as public too, so ``firma.test`` is the
highest name asked, never ``wpad.test``. ``pypac``'s own helper treats an
unknown last label as a top-level domain and then asks ``wpad.<tld>``, so it is
not used for the walk.

Each name is looked up as an absolute name (a trailing dot, so the resolver
appends no search domain), and only a name that resolves is fetched.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import sys
from pathlib import Path
from typing import Final

from zvkdiag._errors import PacError
from zvkdiag.transport.pac import fetch_pac

__all__ = [
    "RESOLV_CONF",
    "WPAD_LOOKUP_TIMEOUT",
    "discover",
    "dns_suffixes",
    "loopback",
    "wpad_urls",
]

WPAD_LOOKUP_TIMEOUT: Final = 2.0
RESOLV_CONF: Final = Path("/etc/resolv.conf")
MAX_SUFFIXES: Final = 6  # resolv.conf allows six search domains

_psl: object | None = None


def _registrable(domain: str) -> str | None:
    """The organisation's registrable domain of ``domain`` (None: it is itself public)."""
    global _psl
    from publicsuffixlist import PublicSuffixList

    if _psl is None:
        _psl = PublicSuffixList(accept_unknown=True)
    assert isinstance(_psl, PublicSuffixList)
    found = _psl.privatesuffix(domain)
    return str(found) if found else None


def wpad_urls(domain: str) -> list[str]:
    """``wpad.<domain>/wpad.dat`` and each shorter parent, down to the registrable domain.

    >>> wpad_urls("abt.firma.co.uk")
    ['http://wpad.abt.firma.co.uk/wpad.dat', 'http://wpad.firma.co.uk/wpad.dat']
    """
    name = domain.strip().strip(".").lower()
    if not name or "." not in name or _is_ip(name):
        return []
    floor = _registrable(name)
    if floor is None:
        return []
    labels = name.split(".")
    keep = len(floor.split("."))
    return [f"http://wpad.{'.'.join(labels[i:])}/wpad.dat" for i in range(len(labels) - keep + 1)]


def dns_suffixes(
    *, resolv_conf: Path = RESOLV_CONF, platform: str = sys.platform, fqdn: str | None = None
) -> list[str]:
    """This PC's DNS suffixes, in the order the resolver tries them.

    On Linux and macOS the ``search`` (or ``domain``) line of ``resolv_conf``;
    on Windows (untested here) the domain part of the computer's full name.
    """
    if platform == "win32":
        full = fqdn if fqdn is not None else socket.getfqdn()
        return [full.split(".", 1)[1]] if "." in full.strip(".") else []
    try:
        lines = resolv_conf.read_text(errors="replace").splitlines()
    except OSError:
        return []
    found: list[str] = []
    for line in lines:
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] in ("search", "domain"):
            found = words[1:]  # the last such line wins, as in the resolver
    return [s.strip(".") for s in found if s.strip(".")][:MAX_SUFFIXES]


def loopback(host: str) -> bool:
    """True for names that never leave this PC: ``localhost`` and loopback addresses."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


async def discover(address: str, suffixes: list[str] | None = None) -> tuple[str, str] | None:
    """The first WPAD file found: ``(url, text)``; None when there is none.

    A name that does not resolve, or whose file cannot be fetched, is skipped:
    most networks have no WPAD, and that must cost little and say nothing.
    """
    seen: set[str] = set()
    for suffix in dns_suffixes() if suffixes is None else suffixes:
        for url in wpad_urls(suffix):
            if url in seen:
                continue
            seen.add(url)
            if not await _resolves(url.split("/")[2]):
                continue
            try:
                return url, await fetch_pac(url, address=address)
            except PacError:
                continue
    return None


async def _resolves(name: str) -> bool:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(WPAD_LOOKUP_TIMEOUT):
            await loop.getaddrinfo(name + ".", 80, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError):
        return False
    return True


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
