"""Conformance: every registered probe declares what it is, in both languages, with valid dtypes."""

from __future__ import annotations

import json
import re

import pytest

from zvkdiag._errors import UnknownProbe
from zvkdiag.probes.base import DTYPES, PLATFORMS, Probe
from zvkdiag.probes.registry import DEFAULT_REGISTRY, ProbeRegistry

CATALOG_NAMES = {
    "os", "hardware", "resources", "storage", "processes", "services", "software", "updates",
    "reboot_pending", "network_config", "connections", "connectivity", "event_log",
    "security_posture", "users_sessions", "autostart", "printers", "time_sync", "environment",
}  # fmt: skip
PROBES = list(DEFAULT_REGISTRY)


def test_catalog_is_complete() -> None:
    assert set(DEFAULT_REGISTRY.names()) == CATALOG_NAMES


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_probe_declares_everything(probe: type[Probe]) -> None:
    assert re.fullmatch(r"[a-z][a-z_]*", probe.name)
    for text in (probe.title_de, probe.title_en, probe.description_de, probe.description_en):
        assert isinstance(text, str) and text.strip()
    assert probe.description_de != probe.description_en
    assert probe.description_de.endswith(".") and probe.description_en.endswith(".")
    assert probe.platforms and probe.platforms <= PLATFORMS
    assert probe.columns and set(probe.columns.values()) <= DTYPES
    assert probe.never_collect and all(isinstance(t, str) and t for t in probe.never_collect)
    assert 0 < probe.timeout <= 120
    assert isinstance(probe.sensitive, bool) and isinstance(probe.default, bool)
    assert probe.resolve_params({}) == {p.name: p.default for p in probe.parameters}
    json.dumps(probe.describe())


def test_sensitive_probes_are_the_declared_ones() -> None:
    sensitive = {p.name for p in PROBES if p.sensitive}
    assert sensitive == {"processes", "event_log", "users_sessions"}


def test_catalog_entries_are_plain_dicts() -> None:
    catalog = DEFAULT_REGISTRY.catalog()
    assert [entry["name"] for entry in catalog] == DEFAULT_REGISTRY.names()
    assert json.loads(json.dumps(catalog)) == catalog


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("proceses", "processes"), ("event-log", "event_log"), ("timesync", "time_sync")],
)
def test_unknown_probe_suggests_close_names(typo: str, suggestion: str) -> None:
    with pytest.raises(UnknownProbe) as info:
        DEFAULT_REGISTRY.get(typo)
    assert suggestion in info.value.suggestions
    assert suggestion in str(info.value)


def test_unknown_probe_without_anything_close() -> None:
    with pytest.raises(UnknownProbe) as info:
        DEFAULT_REGISTRY.get("zzzzzz")
    assert info.value.suggestions == []


def test_a_name_registers_once() -> None:
    registry = ProbeRegistry([DEFAULT_REGISTRY.get("os")])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(DEFAULT_REGISTRY.get("os"))
    assert "os" in registry and len(registry) == 1


def test_default_set_excludes_probes_that_need_parameters() -> None:
    defaults = DEFAULT_REGISTRY.defaults("linux")
    assert "connectivity" not in defaults
    assert "processes" in defaults
    assert "services" in DEFAULT_REGISTRY.defaults("windows")
