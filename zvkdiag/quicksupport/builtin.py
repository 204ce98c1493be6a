"""Settings baked into the customer program at build time: relay address and CA key.

The program customers download is built with ``packaging/build_onefile.py --relay ...
--ca-key ...``, which writes ``builtin.json`` beside this module inside the
build; so the customer configures nothing.  A source checkout has no such file
and falls back to the development defaults.  ``--relay`` and ``--ca-key`` on the
command line still override what is built in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from zvkdiag._errors import ZvkdiagError

if TYPE_CHECKING:
    from zvkdiag.trust.verify import TrustConfig

__all__ = ["DEV_RELAY", "FILE_NAME", "BuiltIn", "load_builtin"]

FILE_NAME: Final = "builtin.json"
DEV_RELAY: Final = "127.0.0.1:8340"
"""The relay of ``zvkdiag relay`` with its defaults: for a source checkout."""


@dataclass(frozen=True)
class BuiltIn:
    """What the build put in: ``relay`` (an address as ``--relay`` takes it) and
    ``ca_key`` (the organisation's CA public key in OpenSSH form), each optional."""

    relay: str | None = None
    ca_key: str | None = None

    def trust(self) -> TrustConfig | None:
        """The CA key as a trust configuration (None when none is built in)."""
        if not self.ca_key:
            return None
        import asyncssh  # with the key only: the window comes before the SSH stack

        from zvkdiag.trust.verify import TrustConfig

        try:
            keys = tuple(asyncssh.import_public_key(line) for line in _key_lines(self.ca_key))
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise ZvkdiagError(f"the built-in CA key is unreadable: {exc}") from exc
        return TrustConfig(keys)

    def to_json(self) -> str:
        return json.dumps({"relay": self.relay, "ca_key": self.ca_key}, indent=2) + "\n"


def _key_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def load_builtin(raw: str | None = None) -> BuiltIn:
    """Read ``builtin.json`` from the package (or parse ``raw``); empty when there is none.

    Raises
    ------
    ZvkdiagError
        The file exists but is not what the build writes (a broken build).
    """
    if raw is None:
        source = resources.files(__package__ or "zvkdiag.quicksupport") / FILE_NAME
        if not source.is_file():
            return BuiltIn()
        raw = source.read_text(encoding="utf-8")
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ZvkdiagError(f"{FILE_NAME} of this build is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str | None) for k in ("relay", "ca_key")
    ):
        raise ZvkdiagError(f"{FILE_NAME} of this build must hold 'relay' and 'ca_key' strings")
    return BuiltIn(data.get("relay") or None, data.get("ca_key") or None)
