"""``HOST:PORT`` parsing, in a module light enough for the relay to import."""

from __future__ import annotations

from zvkdiag._errors import ZvkdiagError

__all__ = ["parse_address"]


def parse_address(text: str, default_port: int = 8340) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``host``."""
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:
        return text.strip("[]"), default_port
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise ZvkdiagError(f"{text!r} is not a HOST:PORT address") from None
