"""The environment probe: allow-listed environment variables only.

Values of variables outside ``ENV_ALLOWLIST`` are never read, and their
names are not sent either: a name like ``ACME_PROD_TOKEN`` already says too
much about the customer's setup.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from zvkdiag.probes.base import Probe, ProbeContext, Record, schema
from zvkdiag.probes.redact import read_allowed_env

__all__ = ["EnvironmentProbe"]


class EnvironmentProbe(Probe):
    name = "environment"
    title_de = "Umgebungsvariablen"
    title_en = "Environment variables"
    description_de = (
        "Ausgewählte, unbedenkliche Systemeinstellungen wie Suchpfad, Sprache, Proxy und "
        "Temp-Ordner. Andere Umgebungsvariablen werden nicht gelesen."
    )
    description_en = (
        "Selected harmless system settings such as search path, language, proxy and temp "
        "folder. Other environment variables are not read."
    )
    platforms = frozenset({"linux", "windows", "darwin"})
    columns = schema(name="string", value="string")
    never_collect = (
        "values (and names) of variables outside the allow-list",
        "passwords inside proxy URLs",
    )
    timeout = 2.0

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        for name, value in read_allowed_env(os.environ).items():
            yield {"name": name, "value": value}
