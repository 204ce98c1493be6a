"""The customer program's command-line options, shared by ``zvkdiag quicksupport`` and
the one-file program (``zvk-quicksupport``), so both take the same ones."""

from __future__ import annotations

import argparse

from zvkdiag.agent.limits import DEFAULT_IDLE_MINUTES, DEFAULT_MAX_HOURS

__all__ = ["add_options"]


def add_options(q: argparse.ArgumentParser) -> None:
    """Add the quicksupport options to ``q``."""
    mode = q.add_mutually_exclusive_group()
    mode.add_argument(
        "--relay",
        help="HOST (find the way), HOST:PORT (raw TCP) or wss://HOST[:PORT]"
        " (default: the relay built into this program, else 127.0.0.1:8340)",
    )
    q.add_argument(
        "--proxy", help="http://[user:password@]host:port, or 'none' (default: HTTPS_PROXY)"
    )
    q.add_argument(
        "--pac",
        help="URL of a proxy auto-configuration (PAC) file, or 'none' "
        "(default on Windows: the user's automatic configuration script)",
    )
    mode.add_argument("--listen", help="direct mode: listen on HOST:PORT instead of using a relay")
    q.add_argument("--ui", choices=("auto", "tk", "console"), default="auto")
    q.add_argument(
        "--lang", choices=("de", "en"), default=None, help="default: from the locale, else German"
    )
    q.add_argument("--consent-timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    q.add_argument(
        "--idle-minutes",
        type=float,
        default=DEFAULT_IDLE_MINUTES,
        help="ask 'still needed?' after this many minutes without requests or screen view"
        f" (fractions allowed, 0 = never; default {DEFAULT_IDLE_MINUTES:g})",
    )
    q.add_argument(
        "--max-session-hours",
        type=float,
        default=DEFAULT_MAX_HOURS,
        help=f"end any session after this many hours (0 = no limit; default {DEFAULT_MAX_HOURS:g})",
    )
    q.add_argument(
        "--ca-key",
        help="the organisation's CA public key: only engineers it certified"
        " (default: the key built into this program, if any)",
    )
    q.add_argument("--revoked", help="revocation list (fingerprints) that goes with --ca-key")
