"""The German and English catalogs say the same things with the same placeholders."""

from __future__ import annotations

import string

import pytest

from zvkdiag.consent.messages import CATALOG, LANGUAGES, text


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_both_languages_have_the_same_keys():
    assert set(LANGUAGES) == set(CATALOG)
    assert set(CATALOG["de"]) == set(CATALOG["en"])


@pytest.mark.parametrize("key", sorted(CATALOG["de"]))
def test_same_placeholders(key: str):
    assert placeholders(CATALOG["de"][key]) == placeholders(CATALOG["en"][key])


@pytest.mark.parametrize("key", sorted(CATALOG["de"]))
def test_no_empty_text(key: str):
    assert CATALOG["de"][key].strip() and CATALOG["en"][key].strip()


def test_lookup_fills_placeholders_and_falls_back_to_german():
    assert text("status.connected", "en", engineer="Erika") == "Connected with Erika"
    assert text("status.connected", "fr", engineer="Erika") == "Verbunden mit Erika"
