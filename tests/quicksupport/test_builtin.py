"""Relay and CA key built in at build time; the command line still overrides the relay."""

from __future__ import annotations

from pathlib import Path

import pytest

from zvkdiag._errors import ZvkdiagError
from zvkdiag.quicksupport.app import plan
from zvkdiag.quicksupport.builtin import DEV_RELAY, BuiltIn, load_builtin
from zvkdiag.quicksupport.main import _parser
from zvkdiag.trust import ca


def _ca_key(tmp_path: Path) -> str:
    return Path(ca.init_ca(tmp_path / "ca")).read_text()


def test_a_source_checkout_has_nothing_built_in() -> None:
    assert load_builtin() == BuiltIn()


def test_what_the_build_writes_reads_back(tmp_path: Path) -> None:
    built = BuiltIn("relay.zvk.example", _ca_key(tmp_path))
    assert load_builtin(built.to_json()) == built
    trust = load_builtin(built.to_json()).trust()
    assert trust is not None and len(trust.ca_keys) == 1


@pytest.mark.parametrize("raw", ["not json", "[1]", '{"relay": 5}'])
def test_a_broken_builtin_file_is_a_clear_error(raw: str) -> None:
    with pytest.raises(ZvkdiagError, match=r"builtin\.json"):
        load_builtin(raw)


def test_an_unreadable_builtin_key_is_a_clear_error() -> None:
    with pytest.raises(ZvkdiagError, match="built-in CA key"):
        BuiltIn(None, "ssh-ed25519 not-base64!").trust()


def test_relay_order_command_line_then_builtin_then_development(tmp_path: Path) -> None:
    built = BuiltIn("relay.zvk.example", _ca_key(tmp_path))
    assert plan(_parser().parse_args([]), built).relay == "relay.zvk.example"
    assert plan(_parser().parse_args(["--relay", "127.0.0.2:1"]), built).relay == "127.0.0.2:1"
    assert plan(_parser().parse_args([]), BuiltIn()).relay == DEV_RELAY
    assert plan(_parser().parse_args(["--listen", "127.0.0.1:0"]), built).relay is None


def test_the_builtin_ca_key_applies_unless_one_is_given(tmp_path: Path) -> None:
    built = BuiltIn(None, _ca_key(tmp_path))
    assert plan(_parser().parse_args([]), built).trust is not None
    assert plan(_parser().parse_args([]), BuiltIn()).trust is None
    other = ca.init_ca(tmp_path / "other")
    given = plan(_parser().parse_args(["--ca-key", str(other)]), built).trust
    assert given is not None
    assert given.ca_keys[0].public_data != built.trust().ca_keys[0].public_data  # type: ignore[union-attr]


def test_the_program_and_zvkdiag_quicksupport_take_the_same_options() -> None:
    from zvkdiag.cli import _parser as cli_parser

    ours = {a.dest for a in _parser()._actions} - {"help", "version", "verbose"}
    sub = next(a for a in cli_parser()._actions if a.dest == "command")
    theirs = {a.dest for a in sub.choices["quicksupport"]._actions} - {"help"}  # type: ignore[attr-defined]
    assert ours == theirs
