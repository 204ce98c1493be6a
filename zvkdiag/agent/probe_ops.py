"""The ``probe`` op: one consent for the listed probes, a preview for sensitive ones, typed results.

Sensitive probes (processes, event log, sessions) are collected first and
shown to the customer as the exact rows that would leave the machine;
"Nicht senden" drops that probe alone and the engineer is told which.
"""

from __future__ import annotations

from typing import Any, Final

from zvkdiag._errors import ProtocolError
from zvkdiag.agent.ops import OpContext, OpRegistry
from zvkdiag.consent.model import Decision, Scope
from zvkdiag.probes.base import Probe
from zvkdiag.probes.registry import DEFAULT_REGISTRY
from zvkdiag.probes.runner import ProbeResult, arun_probes
from zvkdiag.wire.messages import write_message

__all__ = ["MAX_PROBES", "PREVIEW_ROWS", "register_all"]

MAX_PROBES: Final = 32
PREVIEW_ROWS: Final = 12


def _requested(ctx: OpContext) -> tuple[list[type[Probe]], dict[str, dict[str, Any]]]:
    names = ctx.param("names", list)
    raw = ctx.params.get("params") or {}
    if not names or len(names) > MAX_PROBES or not all(isinstance(n, str) for n in names):
        raise ProtocolError(f"a probe request names 1 to {MAX_PROBES} probes")
    if not isinstance(raw, dict):
        raise ProtocolError("probe parameters must be an object")
    probes = [DEFAULT_REGISTRY.get(n) for n in dict.fromkeys(names)]
    params = {p.name: p.resolve_params(raw.get(p.name) or {}) for p in probes}
    return probes, params


async def _approve_preview(ctx: OpContext, probe: type[Probe], result: ProbeResult) -> bool:
    from zvkdiag.probes.wire import preview_text  # numpy: loaded when a probe runs

    previews = {
        f"preview_{lang}": preview_text(result, lang, max_rows=PREVIEW_ROWS)
        for lang in ("de", "en")
    }
    request = ctx.request(Scope.PROBE, probes=[probe.describe()], **previews)
    return (await ctx.ask(request)) is Decision.ALLOW


async def op_probe(ctx: OpContext) -> int:
    probes, params = _requested(ctx)
    names = [p.name for p in probes]
    await ctx.require(
        ctx.request(Scope.PROBE, probes=[p.describe() for p in probes]),
        scope_label="probe:" + ",".join(names),
    )
    results = await arun_probes(names, params)
    from zvkdiag.probes.wire import encode_result  # numpy: loaded when a probe runs

    refused: list[str] = []
    for probe in probes:
        if probe.sensitive and not await _approve_preview(ctx, probe, results[probe.name]):
            refused.append(probe.name)
    sent = [n for n in names if n not in refused]
    payloads = [encode_result(results[n]) for n in sent]
    await ctx.accept(names=sent, refused=refused)
    for name, payload in zip(sent, payloads, strict=True):
        await write_message(ctx.stdout, payload)
        ctx.audit("probe.sent", probe=name, bytes_sent=len(payload))
    for name in refused:
        ctx.audit("probe.withheld", probe=name)
    return 0


def register_all(registry: OpRegistry) -> None:
    registry.register("probe", op_probe)
