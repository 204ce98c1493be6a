"""Runner (timeouts, failures, normalisation) and wire (typed DataFrames, malformed input)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator

import pandas as pd
import pytest

from zvkdiag._errors import InvalidParameter, ProtocolError, UnknownProbe
from zvkdiag.consent.messages import CATALOG
from zvkdiag.probes.runner import ProbeResult, arun_probe, run_probe, run_probes
from zvkdiag.probes.wire import decode_result, encode_result, preview_text

from .probes_for_tests import RELEASE, TEST_REGISTRY, EveryDtype, Sloppy


@pytest.fixture
def released() -> Iterator[None]:
    RELEASE.clear()
    yield
    RELEASE.set()  # let the abandoned thread finish


def roundtrip(result: ProbeResult) -> tuple[pd.DataFrame, list[str]]:
    probe = TEST_REGISTRY.get(result.probe)
    return decode_result(encode_result(result, registry=TEST_REGISTRY), probe)


def test_every_dtype_survives_the_wire_exactly() -> None:
    result = run_probe("every_dtype", {"rows": 6}, registry=TEST_REGISTRY)
    df, warnings = roundtrip(result)
    assert warnings == []
    assert {c: str(t) for c, t in df.dtypes.items()} == dict(EveryDtype.columns)
    assert df["count"].tolist()[:3] == [pd.NA, 2**40 + 1, 2**40 + 2]
    assert df["when"][1] == pd.Timestamp("2024-03-15 08:12:44.123456", tz="UTC")
    assert pd.isna(df["when"][0])
    assert df["flag"].tolist() == [True, False, True, False, True, False]
    assert df["maybe"].isna().tolist() == [True, False, False, True, False, False]
    assert df.attrs["probe"] == "every_dtype"


def test_empty_result_keeps_declared_dtypes() -> None:
    df, _ = roundtrip(run_probe("every_dtype", {"rows": 0}, registry=TEST_REGISTRY))
    assert len(df) == 0
    assert {c: str(t) for c, t in df.dtypes.items()} == dict(EveryDtype.columns)


def test_oversized_result_is_cut_with_a_warning() -> None:
    result = run_probe("every_dtype", {"rows": 5000}, registry=TEST_REGISTRY)
    data = encode_result(result, registry=TEST_REGISTRY, max_bytes=20_000)
    assert len(data) <= 20_000
    df, warnings = decode_result(data, EveryDtype, max_bytes=20_000)
    assert 0 < len(df) < 5000
    assert any("rows left out" in w for w in warnings)


def test_timeout_returns_partial_records(released: None) -> None:
    result = run_probe("hangs", registry=TEST_REGISTRY)
    assert result.timed_out
    assert result.records == ({"n": 1},)
    assert any("time limit" in w for w in result.warnings)


def test_failing_source_and_probe_become_warnings() -> None:
    result = run_probe("breaks", registry=TEST_REGISTRY)
    assert [r["n"] for r in result.records] == [1, 2]
    assert any("optional source: OSError: source gone" in w for w in result.warnings)
    assert any("parser bug" in w for w in result.warnings)


def test_normalisation_fixes_kinds_timezones_and_secrets() -> None:
    result = run_probe("sloppy", registry=TEST_REGISTRY)
    (row,) = result.records
    assert row == {
        "n": None,  # "12" is a string of a number: never passed on as such
        "when": dt.datetime(2024, 3, 14, 8, 0, tzinfo=dt.UTC),
        "note": "token=***",
    }
    assert any("'n'" in w for w in result.warnings)
    assert any("'extra'" in w for w in result.warnings)
    df, _ = roundtrip(result)
    assert str(df["when"].dtype) == Sloppy.columns["when"]


def test_unknown_probe_and_bad_parameters_fail_before_running() -> None:
    with pytest.raises(UnknownProbe) as info:
        run_probes(["every_dtype", "every_dtyp"], registry=TEST_REGISTRY)
    assert info.value.suggestions == ["every_dtype"]
    with pytest.raises(InvalidParameter, match="'rows'"):
        run_probe("every_dtype", {"rows": -1}, registry=TEST_REGISTRY)
    with pytest.raises(InvalidParameter, match="no parameter 'colour'"):
        run_probe("every_dtype", {"colour": 1}, registry=TEST_REGISTRY)


def test_probe_for_another_platform_gives_a_warning() -> None:
    result = run_probe("windows_only", registry=TEST_REGISTRY, platform="linux")
    assert result.records == ()
    assert "does not run on linux" in result.warnings[0]


def test_async_twin_runs_off_the_loop() -> None:
    result = asyncio.run(arun_probe("every_dtype", {"rows": 2}, registry=TEST_REGISTRY))
    assert len(result.records) == 2


def good_payload() -> dict[str, object]:
    result = run_probe("every_dtype", {"rows": 2}, registry=TEST_REGISTRY)
    payload = json.loads(encode_result(result, registry=TEST_REGISTRY))
    assert isinstance(payload, dict)
    return payload


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.update(v=2), "version 2"),
        (lambda p: p.update(probe="hangs"), "got a result of 'hangs'"),
        (lambda p: p["columns"].pop(), "other columns"),
        (lambda p: p.pop("warnings"), "v1 layout"),
        (lambda p: p["rows"].append([1, 2]), "Row 2"),
        (lambda p: p["rows"][1].__setitem__(1, "42"), "'count'"),
        (lambda p: p["rows"][1].__setitem__(1, 2**70), "'count'"),
        (lambda p: p["rows"][1].__setitem__(2, "0.5"), "'ratio'"),
        (lambda p: p["rows"][1].__setitem__(4, None), "'flag'"),
        (lambda p: p["rows"][1].__setitem__(6, "yesterday"), "'when'"),
        (lambda p: p.update(rows={}), "rows"),
        (lambda p: p.update(elapsed="fast"), "malformed header"),
    ],
)
def test_malformed_results_raise_protocol_error(change: object, message: str) -> None:
    payload = good_payload()
    change(payload)  # type: ignore[operator]
    with pytest.raises(ProtocolError, match=message):
        decode_result(json.dumps(payload).encode(), EveryDtype)


@pytest.mark.parametrize("data", [b"", b"\xff\xfe", b"[1, 2", b"null", b'"text"'])
def test_garbage_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_result(data, EveryDtype)


def test_oversized_input_is_refused_before_parsing() -> None:
    with pytest.raises(ProtocolError, match="over the limit"):
        decode_result(b" " * 101, EveryDtype, max_bytes=100)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_preview_shows_rows_warnings_and_question(lang: str) -> None:
    result = run_probe("sloppy", registry=TEST_REGISTRY)
    text = preview_text(result, lang, registry=TEST_REGISTRY)
    assert "token=***" in text
    assert "abcdef123" not in text
    assert CATALOG[lang]["preview.question"] in text
    assert CATALOG[lang]["preview.warnings"] in text
    assert CATALOG[lang]["button.send"] and CATALOG[lang]["button.dont_send"]


def test_preview_cuts_long_lists() -> None:
    result = run_probe("every_dtype", {"rows": 30}, registry=TEST_REGISTRY)
    text = preview_text(result, "de", registry=TEST_REGISTRY, max_rows=10)
    assert "… und 20 weitere Einträge." in text
