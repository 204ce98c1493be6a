"""Diagnostic probes: declarative classes whose results land as typed DataFrames.

Customer side: ``run_probe`` / ``run_probes`` (or their async twins) give a
``ProbeResult``; ``preview_text`` shows sensitive results to the customer;
``encode_result`` makes the bytes for the channel.  Engineer side:
``decode_result`` turns them into a DataFrame with the declared dtypes.
"""

from zvkdiag.probes.base import DTYPES, PLATFORMS, Parameter, Probe, ProbeContext, Record
from zvkdiag.probes.registry import DEFAULT_REGISTRY, ProbeRegistry
from zvkdiag.probes.runner import ProbeResult, arun_probe, arun_probes, run_probe, run_probes
from zvkdiag.probes.wire import MAX_RESULT_BYTES, decode_result, encode_result, preview_text

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
