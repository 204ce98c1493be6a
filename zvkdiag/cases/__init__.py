"""Cases and second-level analysis: one folder per case, tables across all cases.

The public API::

    store = CaseStore("~/zvkdiag-cases")
    case = store.new_case(reference="ZVK-2026-0042", engineer="Erika Muster")
    case.add_table("software", df)          # pseudonymised, atomic, appends rows
    case.finding("updates", "warning", "3 updates pending")
    case.report()                           # self-contained HTML
    store.table("software")                 # every case, with case_id
    store.sql("SELECT case_id, count(*) FROM software GROUP BY ALL")
    store.purge(older_than="90d")

See ``docs/cases.md`` for the layout, the pseudonymisation policy and the
crash guarantees.
"""

from zvkdiag.cases.case import Case
from zvkdiag.cases.clock import Clock, SystemClock
from zvkdiag.cases.manifest import Finding, Manifest, Status
from zvkdiag.cases.pseudonym import Kind, Pseudonymiser
from zvkdiag.cases.store import CaseStore, RepairReport

__all__ = [
    "Case",
    "CaseStore",
    "Clock",
    "Finding",
    "Kind",
    "Manifest",
    "Pseudonymiser",
    "RepairReport",
    "Status",
    "SystemClock",
]
