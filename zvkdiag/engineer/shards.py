"""Where an ID lives: the first digit of an ID names the relay shard that issued it.

Relays share no state (``zvkdiag relay --shard N`` hands out IDs starting with
N); the engineer's side maps that digit to an address with a *shard map*:
``{"1": "HOST:PORT", "3": "HOST:PORT"}`` given to ``connect(relay=...)``, or a
TOML file with the same keys at the top level::

    1 = "relay1.zvk.example:8340"
    3 = "relay3.zvk.example:8340"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zvkdiag._address import parse_address
from zvkdiag._errors import ConnectError, ZvkdiagError, _spaced

__all__ = ["RelaySpec", "ShardMap", "relay_address"]

RelaySpec = str | Mapping[str, str] | os.PathLike[str]


def _bad(message: str, source: str) -> ConnectError:
    return ConnectError(message, address=source)


@dataclass(frozen=True)
class ShardMap:
    """Shard digit -> ``HOST:PORT``; ``source`` names where the map came from."""

    relays: Mapping[str, str]
    source: str

    @classmethod
    def parse(cls, mapping: Mapping[Any, Any], source: str) -> ShardMap:
        relays: dict[str, str] = {}
        for key, value in mapping.items():
            shard = str(key)
            if len(shard) != 1 or shard not in "123456789":
                raise _bad(f"{source} names shard {key!r}: a shard is one digit 1-9.", source)
            if not isinstance(value, str) or "://" in value:
                raise _bad(
                    f"{source}: shard {shard} must be 'HOST:PORT' of a relay's raw port, "
                    f"not {value!r}.",
                    source,
                )
            try:
                parse_address(value)
            except ZvkdiagError as exc:
                raise _bad(f"{source}: shard {shard}: {exc}", source) from exc
            relays[shard] = value
        if not relays:
            raise _bad(f"{source} names no relay shard.", source)
        return cls(relays, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ShardMap:
        name = os.fspath(path)
        try:
            with open(name, "rb") as f:
                data = tomllib.load(f)
        except OSError as exc:
            raise _bad(f"Cannot read the shard map {name}: {exc.strerror or exc}.", name) from exc
        except tomllib.TOMLDecodeError as exc:
            raise _bad(f"The shard map {name} is not valid TOML: {exc}.", name) from exc
        return cls.parse(data, f"the shard map {name}")

    def address(self, session_id: str) -> str:
        shard = session_id[0]
        if shard not in self.relays:
            raise _bad(
                f"ID {_spaced(session_id)} was issued by relay shard {shard}, which "
                f"{self.source} does not name (it names {', '.join(sorted(self.relays))}). "
                f'Add "{shard}": "HOST:PORT" of that relay.',
                self.source,
            )
        return self.relays[shard]


def relay_address(relay: RelaySpec, session_id: str) -> str:
    """The relay address for ``session_id``: ``relay`` itself, or looked up in a shard map."""
    if isinstance(relay, Mapping):
        return ShardMap.parse(relay, "relay={...}").address(session_id)
    if isinstance(relay, os.PathLike) or relay.endswith(".toml"):
        return ShardMap.load(relay).address(session_id)
    return relay
