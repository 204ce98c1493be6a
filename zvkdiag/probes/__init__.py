"""Diagnostic probes: declarative classes whose results land as typed DataFrames.

Customer side: ``run_probe`` / ``run_probes`` (or their async twins) give a
``ProbeResult``; ``preview_text`` shows sensitive results to the customer;
``encode_result`` makes the bytes for the channel.  Engineer side:
``decode_result`` turns them into a DataFrame with the declared dtypes.

The ``wire`` names load on first use (PEP 562): they need numpy, which the
customer's program should not pay for before a probe is asked for.
"""

from typing import TYPE_CHECKING, Any

from zvkdiag.probes.base import DTYPES, PLATFORMS, Parameter, Probe, ProbeContext, Record
from zvkdiag.probes.registry import DEFAULT_REGISTRY, ProbeRegistry
from zvkdiag.probes.runner import ProbeResult, arun_probe, arun_probes, run_probe, run_probes

if TYPE_CHECKING:
    from zvkdiag.probes.wire import MAX_RESULT_BYTES, decode_result, encode_result, preview_text

_WIRE = {"MAX_RESULT_BYTES", "decode_result", "encode_result", "preview_text"}


def __getattr__(name: str) -> Any:
    if name in _WIRE:
        from zvkdiag.probes import wire

        return getattr(wire, name)
    raise AttributeError(f"module 'zvkdiag.probes' has no attribute {name!r}")


__all__ = [
    "DEFAULT_REGISTRY",
    "DTYPES",
    "MAX_RESULT_BYTES",
    "PLATFORMS",
    "Parameter",
    "Probe",
    "ProbeContext",
    "ProbeRegistry",
    "ProbeResult",
    "Record",
    "arun_probe",
    "arun_probes",
    "decode_result",
    "encode_result",
    "preview_text",
    "run_probe",
    "run_probes",
]
