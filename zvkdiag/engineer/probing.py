"""Probes on the engineer's side: the catalog, and results decoded into typed DataFrames."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from zvkdiag._errors import ConsentDenied, ProtocolError
from zvkdiag.probes.registry import DEFAULT_REGISTRY
from zvkdiag.probes.wire import MAX_RESULT_BYTES, decode_result

if TYPE_CHECKING:
    from zvkdiag.engineer.session import Session

__all__ = ["ProbeResults", "catalog", "collect"]


class ProbeResults(dict[str, pd.DataFrame]):
    """DataFrames by probe name; ``refused`` lists the probes the customer chose not to send."""

    refused: list[str]

    def __init__(self, frames: dict[str, pd.DataFrame], refused: list[str]) -> None:
        super().__init__(frames)
        self.refused = refused

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}: {len(v)} rows" for k, v in self.items())
        refused = f"; refused: {', '.join(self.refused)}" if self.refused else ""
        return f"<ProbeResults {shapes}{refused}>"


def catalog(platform: str | None = None) -> pd.DataFrame:
    """Every probe this version knows, with ``applies`` for the customer's platform."""
    rows = DEFAULT_REGISTRY.catalog()
    df = pd.DataFrame(rows)
    if platform and "platforms" in df:
        df["applies"] = df["platforms"].map(lambda p: platform in p)
    return df


async def collect(
    session: Session, names: list[str], params: dict[str, dict[str, Any]] | None = None
) -> ProbeResults:
    for name in names:
        DEFAULT_REGISTRY.get(name)  # UnknownProbe with suggestions before asking anyone
    chan = await session.open_op("probe", names=list(names), params=params or {})
    sent = chan.header.get("names", [])
    refused = [str(n) for n in chan.header.get("refused", [])]
    if not isinstance(sent, list) or not set(sent) <= set(names):
        raise ProtocolError("the agent sent results for probes nobody asked for")
    frames: dict[str, pd.DataFrame] = {}
    for name in sent:
        data = await session._guarded(chan.read(MAX_RESULT_BYTES + 1024))
        df, warnings = decode_result(data, DEFAULT_REGISTRY.get(name))
        df.attrs.update(probe=name, warnings=warnings)
        frames[name] = df
    chan.close()
    return ProbeResults(frames, refused)


async def probe_one(session: Session, name: str, params: dict[str, Any]) -> pd.DataFrame:
    results = await collect(session, [name], {name: params} if params else None)
    if name in results.refused:
        raise ConsentDenied(f"The customer chose not to send {name!r}.", scope=f"probe:{name}")
    return results[name]
