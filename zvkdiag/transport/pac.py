"""Proxy auto-configuration (PAC): fetch the file, run ``FindProxyForURL``, pick the proxy.

A PAC file is JavaScript from the company's IT; ``pypac`` runs it in ``dukpy``
(QuickJS), which has no time limit of its own. So the script runs in a child
Python process that is killed after ``PAC_RUN_TIMEOUT`` seconds: a script that
loops costs that much time, never the program. A script that throws, a file
that cannot be fetched and an answer naming no usable proxy each end in a
``PacError`` that names the file.

The file comes from ``--pac URL`` (``pac=`` on ``connect``), on Windows from
the user's "automatic configuration script" setting (``AutoConfigURL``, read by
``pypac`` from the registry; see ``windows_pac_url``), and when nothing names a
proxy or a PAC file, from WPAD over DNS (``zvkdiag.transport.wpad``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Final

from zvkdiag._errors import PacError, ZvkdiagError
from zvkdiag.transport.proxy import ProxyURL, parse_proxy

__all__ = [
    "MAX_PAC",
    "PAC_DOWNLOAD_TIMEOUT",
    "PAC_RUN_TIMEOUT",
    "WPAD",
    "fetch_pac",
    "pac_for",
    "parse_pac_answer",
    "proxy_from_pac",
    "run_pac",
    "shown_pac",
    "windows_pac_url",
]

PAC_DOWNLOAD_TIMEOUT: Final = 5.0
PAC_RUN_TIMEOUT: Final = 5.0
MAX_PAC: Final = 1024 * 1024
WPAD: Final = "wpad:"
"""What ``pac_for`` answers when the PAC file is to be found by WPAD over DNS."""

# Run in the child: read {"js", "url", "host"} on stdin, answer {"answer"} or {"error"}.
_CHILD: Final = """\
import json, sys
job = json.load(sys.stdin)
try:
    from pypac.parser import PACFile
    answer = PACFile(job["js"]).find_proxy_for_url(job["url"], job["host"])
    out = {"answer": answer if isinstance(answer, str) else repr(answer)}
except Exception as exc:
    line = (str(exc) or type(exc).__name__).strip().splitlines()[0]
    if line.startswith("Malformed PAC file ("):
        line = line[len("Malformed PAC file ("):].rstrip(")")
    out = {"error": line[:300]}
sys.stdout.write(json.dumps(out))
"""


def shown_pac(url: str) -> str:
    """The PAC address as messages show it: without a user name or password."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def windows_pac_url() -> str | None:
    """The user's (or, by policy, the machine's) ``AutoConfigURL`` from the registry.

    Only called on Windows; ``pypac`` reads the policy keys first, then the
    per-user and machine Internet Settings. Untested here (no Windows in CI).
    """
    from pypac.os_settings import autoconfig_url_from_registry  # type: ignore[import-untyped]

    try:
        value = autoconfig_url_from_registry()
    except Exception:  # an unreadable registry means no PAC, not a crash
        return None
    return str(value) if value else None


def pac_for(
    *,
    explicit_proxy: str | None,
    explicit_pac: str | None,
    env: Mapping[str, str],
    platform: str = sys.platform,
) -> str | None:
    """The PAC file to consult, if any.

    ``--proxy`` wins over everything; then ``--pac`` (``none`` for no PAC); then a
    proxy from the environment (``HTTPS_PROXY``, ``ALL_PROXY``) means no PAC;
    then, on Windows, the user's automatic configuration script, and the user's
    fixed proxy (WinINet) means no PAC. Otherwise ``WPAD``: look for one over
    DNS, unless ``NO_PROXY`` is ``*``.
    """
    if explicit_proxy is not None:
        return None
    if explicit_pac is not None:
        return None if explicit_pac.strip().lower() in ("", "none") else explicit_pac.strip()
    if any(env.get(n) for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")):
        return None
    if platform == "win32":
        found = windows_pac_url()
        if found is not None:
            return found
        if _wininet_proxy():
            return None
    if env.get("no_proxy", env.get("NO_PROXY", "")).strip() == "*":
        return None
    return WPAD


def _wininet_proxy() -> bool:
    registry = urllib.request.getproxies_registry()  # type: ignore[attr-defined]
    return bool(registry.get("https"))


def parse_pac_answer(answer: str, *, pac: str, address: str) -> ProxyURL | None:
    """``"PROXY p:8080; DIRECT"`` → the first entry we can use; ``DIRECT`` → None.

    ``PROXY``/``HTTP`` entries are HTTP proxies; ``HTTPS`` (TLS to the proxy) and
    ``SOCKS`` entries are skipped. Only the first usable entry is taken: no
    fail-over to the next one.
    """
    for entry in answer.split(";"):
        words = entry.split()
        if not words:
            continue
        kind = words[0].upper()
        if kind == "DIRECT":
            return None
        if kind in ("PROXY", "HTTP") and len(words) == 2:
            try:
                return parse_proxy(words[1])
            except ZvkdiagError:
                continue
    raise PacError(
        f"The proxy configuration file {shown_pac(pac)} named no usable proxy for "
        f"{address} (it answered {answer[:200]!r}).",
        address=address,
        pac=shown_pac(pac),
        reason="answer",
    )


def _download(url: str) -> str:
    if "://" not in url and os.path.isfile(url):  # a local path, as AutoConfigURL may hold
        url = "file:" + urllib.request.pathname2url(os.path.abspath(url))
    # the PAC file itself is fetched without a proxy, as browsers do
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"User-Agent": "zvkdiag"})  # noqa: S310
    with opener.open(request, timeout=PAC_DOWNLOAD_TIMEOUT) as response:
        data = response.read(MAX_PAC + 1)
    if len(data) > MAX_PAC:
        raise ValueError(f"larger than {MAX_PAC // 1024} KiB")
    return bytes(data).decode("utf-8", errors="replace")


async def fetch_pac(url: str, *, address: str) -> str:
    """The PAC file's text; a ``PacError`` (``download``) when it cannot be had."""
    shown = shown_pac(url)
    try:
        return await asyncio.to_thread(_download, url)
    except urllib.error.HTTPError as exc:
        why = f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        why = getattr(reason, "strerror", None) or str(reason)
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    raise PacError(
        f"The proxy configuration file {shown} cannot be loaded: {why}.",
        address=address,
        pac=shown,
        reason="download",
    )


async def run_pac(
    js: str, url: str, host: str, *, pac: str, address: str, timeout: float | None = None
) -> str:
    """``FindProxyForURL(url, host)`` of ``js``, in a child process killed after ``timeout``."""
    shown = shown_pac(pac)
    timeout = PAC_RUN_TIMEOUT if timeout is None else timeout
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        "-c",
        _CHILD,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    job = json.dumps({"js": js, "url": url, "host": host}).encode()
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate(job)
    except TimeoutError:
        raise PacError(
            f"The proxy configuration file {shown} did not finish within {timeout:g} s "
            "(a loop in its script?).",
            address=address,
            pac=shown,
            reason="timeout",
        ) from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    try:
        result = json.loads(out)
    except ValueError:
        result = {"error": err.decode(errors="replace").strip()[-300:] or "no answer"}
    if "answer" in result:
        return str(result["answer"])
    raise PacError(
        f"The proxy configuration file {shown} failed: {result.get('error')}.",
        address=address,
        pac=shown,
        reason="script",
    )


async def proxy_from_pac(pac: str, host: str, port: int) -> ProxyURL | None:
    """The proxy the PAC file ``pac`` names for ``https://host:port/`` (None: go direct).

    ``pac`` may be ``WPAD``: then the file is looked for over DNS, and none found
    (or a relay on this PC) means no proxy.
    """
    from zvkdiag.transport import wpad

    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if pac == WPAD:
        found = None if wpad.loopback(host) else await wpad.discover(address)
        if found is None:
            return None
        pac, js = found
    else:
        js = await fetch_pac(pac, address=address)
    url = f"https://{address}/"  # browsers hand PAC scripts no path for https
    answer = await run_pac(js, url, host, pac=pac, address=address)
    return parse_pac_answer(answer, pac=pac, address=address)
