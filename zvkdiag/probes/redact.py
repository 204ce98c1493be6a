"""The secrets rules: what never leaves the customer's machine.

Pure functions, applied on the customer side before anything is encoded:

- command lines keep only the executable's name unless the engineer asked for
  arguments, and even then values after password-like options are dropped;
- environment variables: only names on ``ENV_ALLOWLIST`` are read at all;
- free text loses password-like patterns (``password=...``, ``Bearer ...``,
  credentials inside URLs, ``--token x``).
"""

from __future__ import annotations

import ntpath
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Final

__all__ = [
    "ENV_ALLOWLIST",
    "MASK",
    "executable_name",
    "read_allowed_env",
    "redact_argv",
    "redact_text",
]

MASK: Final = "***"

ENV_ALLOWLIST: Final = frozenset(
    {
        # Windows
        "ALLUSERSPROFILE", "APPDATA", "COMPUTERNAME", "ComSpec", "HOMEDRIVE", "HOMEPATH",
        "LOCALAPPDATA", "NUMBER_OF_PROCESSORS", "OS", "PATHEXT", "PROCESSOR_ARCHITECTURE",
        "PROCESSOR_IDENTIFIER", "ProgramData", "ProgramFiles", "ProgramFiles(x86)",
        "ProgramW6432", "PUBLIC", "SESSIONNAME", "SystemDrive", "SystemRoot", "TEMP", "TMP",
        "USERDOMAIN", "USERNAME", "USERPROFILE", "windir",
        # POSIX
        "DESKTOP_SESSION", "DISPLAY", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE",
        "LC_MESSAGES", "LOGNAME", "SHELL", "TERM", "TMPDIR", "TZ", "USER", "WAYLAND_DISPLAY",
        "XDG_CURRENT_DESKTOP", "XDG_RUNTIME_DIR", "XDG_SESSION_TYPE",
        # both
        "PATH", "Path", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
        "no_proxy",
    }
)  # fmt: skip
"""Variables whose *values* are read.  Everything else is never looked at."""

_MARKER_WORDS: Final = (  # words that mark the value after them as a secret
    r"passw(?:or)?d|passwort|kennwort|passphrase|pwd|pass|secret|token|api[_-]?key|"
    r"access[_-]?key|private[_-]?key|authorization|credentials?|session[_-]?id|cookie"
)
_KEY_VALUE = re.compile(
    rf"(?P<key>[\w.-]*(?:{_MARKER_WORDS})[\w.-]*[\"']?)(?P<sep>\s*[:=]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;&]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(?P<scheme>Bearer|Basic|Digest|token)\s+[A-Za-z0-9._~+/=-]{6,}", re.I)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.I)
_SECRET_OPTION = re.compile(rf"^(?:--?|/)[\w-]*(?:{_MARKER_WORDS})[\w-]*$", re.IGNORECASE)
_SECRET_OPTION_INLINE = re.compile(rf"^(?P<opt>(?:--?|/)[\w-]*(?:{_MARKER_WORDS})[\w-]*)[=:]", re.I)
_LONG_HEX_OR_B64 = re.compile(
    r"\b(?:[A-Fa-f0-9]{40,}"
    r"|(?=[\w+-]*\d)(?=[\w+-]*[a-z])(?=[\w+-]*[A-Z])[A-Za-z0-9+_-]{40,}={0,2})"
)


def redact_text(text: str) -> str:
    """Remove password-like values from free text (messages, command lines, URLs).

    Keys stay (``password=***``) so the engineer sees that something was
    there; long hex or base64 runs (tokens, keys) are masked as a whole.
    """
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m['scheme']} {MASK}", text)
    text = _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)
    return _LONG_HEX_OR_B64.sub(MASK, text)


def executable_name(path_or_argv0: str) -> str:
    """The bare program name of a path, for Windows and POSIX paths alike."""
    cleaned = path_or_argv0.strip().strip('"')
    name = ntpath.basename(cleaned) if "\\" in cleaned else posixpath.basename(cleaned)
    return name or cleaned


def redact_argv(argv: Sequence[str], *, keep_args: bool = False) -> str:
    """A command line that is safe to send.

    By default only the executable's name is kept.  With ``keep_args`` the
    arguments follow, but the value after any password-like option
    (``--password x``, ``-p:x``, ``/token=x``) is masked and every argument
    also passes through ``redact_text``.
    """
    if not argv:
        return ""
    exe = executable_name(argv[0])
    if not keep_args:
        return exe
    out = [exe]
    mask_next = False
    for arg in argv[1:]:
        if mask_next:
            out.append(MASK)
            mask_next = False
        elif inline := _SECRET_OPTION_INLINE.match(arg):
            out.append(f"{inline['opt']}={MASK}")
        elif _SECRET_OPTION.match(arg):
            out.append(arg)
            mask_next = True
        else:
            out.append(redact_text(arg))
    return " ".join(out)


def read_allowed_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Values of allow-listed variables only, each redacted (proxy URLs carry passwords).

    Only allow-listed keys are looked up: the other values are never read.
    """
    found: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()  # Windows: PATH and Path are one variable
    for name in sorted(ENV_ALLOWLIST):
        value = environ.get(name)
        if value is not None and (name.casefold(), value) not in seen:
            seen.add((name.casefold(), value))
            found[name] = redact_text(value)
    return found
