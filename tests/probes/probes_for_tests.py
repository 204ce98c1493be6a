"""Small honest probes for runner and wire tests: they really run, in a registry of their own."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

from zvkdiag.probes.base import Parameter, Probe, ProbeContext, Record, schema
from zvkdiag.probes.registry import ProbeRegistry

ALL = frozenset({"linux", "windows", "darwin"})
RELEASE = threading.Event()
"""Set by a test (in its teardown) to let a hanging probe's thread end."""


class _Base(Probe):
    title_de = "Test"
    title_en = "Test"
    description_de = "Nur für Tests."
    description_en = "Only for tests."
    platforms = ALL
    never_collect = ("anything real",)


class EveryDtype(_Base):
    name = "every_dtype"
    sensitive = True
    columns = schema(
        text="string",
        count="Int64",
        ratio="float64",
        kind="category",
        flag="bool",
        maybe="boolean",
        when="datetime64[ns, UTC]",
    )
    parameters = (Parameter("rows", "int", 3, "how many rows", minimum=0, maximum=100_000),)

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        base = dt.datetime(2024, 3, 14, 8, 12, 44, 123456, tzinfo=dt.UTC)
        for i in range(int(ctx.params["rows"])):  # type: ignore[call-overload]
            yield {
                "text": f"row {i}" if i % 3 else None,
                "count": 2**40 + i if i % 3 else None,
                "ratio": i / 4 if i % 3 else None,
                "kind": ("a", "b")[i % 2] if i % 3 else None,
                "flag": i % 2 == 0,
                "maybe": (i % 2 == 0) if i % 3 else None,
                "when": base + dt.timedelta(days=i) if i % 3 else None,
            }


class Hangs(_Base):
    name = "hangs"
    columns = schema(n="Int64")
    timeout = 0.3

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        yield {"n": 1}
        RELEASE.wait(30)
        yield {"n": 2}


class Breaks(_Base):
    name = "breaks"
    columns = schema(n="Int64")

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        yield {"n": 1}
        with ctx.attempt("optional source"):
            raise OSError("source gone")
        yield {"n": 2}
        raise RuntimeError("parser bug")


class Sloppy(_Base):
    name = "sloppy"
    columns = schema(n="Int64", when="datetime64[ns, UTC]", note="string")

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        local = dt.datetime(2024, 3, 14, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        yield {"n": "12", "when": local, "note": "token=abcdef123", "extra": 1}


class WindowsOnly(_Base):
    name = "windows_only"
    platforms = frozenset({"windows"})
    columns = schema(n="Int64")

    def collect(self, ctx: ProbeContext) -> Iterator[Record]:
        yield {"n": 1}


TEST_REGISTRY = ProbeRegistry([EveryDtype, Hangs, Breaks, Sloppy, WindowsOnly])
