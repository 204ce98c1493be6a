from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from zvkdiag._errors import CaseStoreError
from zvkdiag.cases import CaseStore, Kind, Pseudonymiser
from zvkdiag.cases.pseudonym import KEY_FILE
from zvkdiag.testing.clock import FixedClock

RAW = {
    "user": "anna.schmidt",
    "host": "PC-ANNA-7",
    "ipv4": "192.168.178.23",
    "public_ip": "81.3.7.200",
    "ipv6": "2a02:8108:1fc0:45::17",
    "mac": "3C:52:82:0A:1B:2C",
    "email": "anna.schmidt@example.org",
    "sid": "S-1-5-21-3623811015-3361044348-30300820-1013",
}
SECRETS = [*RAW.values(), "anna", "schmidt"]


def _identifier_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": [f"PC-ANNA-7\\{RAW['user']}", "NT AUTHORITY\\SYSTEM"],
            "hostname": [RAW["host"], "localhost"],
            "address": [RAW["ipv4"], "127.0.0.1"],
            "mac": [RAW["mac"], None],
            "email": [RAW["email"], ""],
            "sid": [RAW["sid"], "S-1-5-18"],
            "path": [r"C:\Users\anna.schmidt\AppData\Local\app.exe", "/home/anna.schmidt/.bashrc"],
            "message": [
                f"login from {RAW['public_ip']} and [{RAW['ipv6']}]:443 by Anna.Schmidt",
                f"peer {RAW['mac'].lower().replace(':', '-')} mail {RAW['email'].upper()}",
            ],
            "note": pd.Categorical(["on PC-ANNA-7", "fine"]),
            "pid": pd.array([4, 8], dtype="Int64"),
        }
    )


def _leaks(data: bytes) -> list[str]:
    low = data.lower()
    return [s for s in SECRETS if s.lower().encode() in low]


def test_the_leak_check_itself_finds_raw_identifiers(tmp_path: Path) -> None:
    # Without this, the test below could pass by accident (e.g. if compression hid the strings).
    buf = io.BytesIO()
    _identifier_frame().to_parquet(buf, index=False)
    assert set(_leaks(buf.getvalue())) >= set(RAW.values())


def test_raw_identifiers_never_reach_the_stored_bytes(store: CaseStore, tmp_path: Path) -> None:
    case = store.new_case(reference=f"call from {RAW['email']}", engineer="Erika Muster")
    case.set_platform({"os": "Windows 11", "hostname": RAW["host"], "user": RAW["user"]})
    case.add_table("mixed", _identifier_frame(), kinds={"path": "text"})
    case.add_audit(
        [
            {
                "seq": 0,
                "ts": "t",
                "prev": None,
                "kind": "file.download",
                "path": r"C:\Users\anna.schmidt\Desktop\rechnung.pdf",
                "bytes": 12,
            }
        ]
    )
    case.finding("network", "warning", f"{RAW['host']} uses DNS at {RAW['ipv4']}")
    nb = tmp_path / "nb.ipynb"
    nb.write_text('{"cells": [{"cell_type": "markdown", "source": "PC-ANNA-7 anna.schmidt"}]}')
    case.add_notebook(nb)
    case.report()
    for path in case.path.rglob("*"):
        if path.is_file():
            assert _leaks(path.read_bytes()) == [], path
    table = store.table("mixed")
    flat = " ".join(map(str, table.astype(str).to_numpy().ravel()))
    assert [s for s in SECRETS if s.lower() in flat.lower()] == []


def test_tokens_are_consistent_and_keep_useful_hints(store: CaseStore) -> None:
    df = store.new_case(reference="r", engineer="e").add_table("mixed", _identifier_frame())
    row = pd.read_parquet(df).iloc[0]
    other = pd.read_parquet(df).iloc[1]
    p = store.pseudonymiser
    user, host = p.user(RAW["user"]), p.host(RAW["host"])
    assert re.fullmatch(r"user-[0-9a-f]{8}", user) and re.fullmatch(r"host-[0-9a-f]{8}", host)
    assert row["user"] == f"{host}\\{user}"
    assert row["hostname"] == host
    assert row["path"] == rf"C:\Users\{user}\AppData\Local\app.exe"
    assert other["path"] == f"/home/{user}/.bashrc"
    assert row["address"].startswith("ip4-private-")
    assert row["sid"].startswith("sid-") and row["sid"].endswith("-1013")
    assert row["email"] == p.email(RAW["email"])
    assert row["note"] == f"on {host}"
    msg = row["message"]
    assert p.ip(RAW["public_ip"]) in msg and msg.count("ip6-public-") == 1
    assert msg.endswith(f"by {user}")  # learned from the user column, matched case-insensitively
    assert other["message"] == f"peer {row['mac']} mail {row['email']}"
    # Values that identify nobody stay readable:
    assert other["user"] == "NT AUTHORITY\\SYSTEM"
    assert (other["hostname"], other["address"], other["sid"]) == (
        "localhost",
        "127.0.0.1",
        "S-1-5-18",
    )
    assert other["email"] == "" and pd.isna(other["mac"])


def test_same_store_same_token_other_store_other_token(tmp_path: Path, clock: FixedClock) -> None:
    first = CaseStore(tmp_path / "a", clock=clock)
    again = CaseStore(tmp_path / "a", clock=clock)
    other = CaseStore(tmp_path / "b", clock=clock)
    for kind, value in [
        (Kind.USER, "anna"),
        (Kind.HOST, "pc1"),
        (Kind.IP, "10.1.2.3"),
        (Kind.MAC, "aa:bb:cc:dd:ee:01"),
        (Kind.EMAIL, "a@b.de"),
    ]:
        token = first.pseudonymiser.value(value, kind)
        assert token == again.pseudonymiser.value(value, kind) != value
        assert token != other.pseudonymiser.value(value, kind)
    a = first.new_case(reference="r", engineer="e")
    b = first.new_case(reference="r", engineer="e")
    a.add_table("os", pd.DataFrame({"user": ["anna"]}))
    b.add_table("os", pd.DataFrame({"user": ["ANNA"]}))
    assert first.table("os")["user"].nunique() == 1


def test_equivalent_spellings_share_a_token() -> None:
    p = Pseudonymiser(b"k" * 32)
    assert p.ip("::ffff:192.168.1.5") == p.ip("192.168.1.5")
    assert p.mac("AA-BB-CC-DD-EE-FF".replace("FF", "01")) == p.mac("aa:bb:cc:dd:ee:01")
    assert p.host("PC1.") == p.host("pc1")
    assert p.user("anna@example.org") == p.email("Anna@Example.org")


def test_tokens_are_not_pseudonymised_twice() -> None:
    p = Pseudonymiser(b"k" * 32)
    token = p.user("anna")
    assert p.user(token) == token and p.text(f"x {token}") == f"x {token}"
    assert p.host(p.host("pc")) == p.host("pc")


def test_undeclared_values_fall_back_to_free_text_not_to_keep() -> None:
    p = Pseudonymiser(b"k" * 32)
    assert p.ip("10.0.0.7:3389") == f"{p.ip('10.0.0.7')}:3389"
    assert p.email("write to bob@example.org") == f"write to {p.email('bob@example.org')}"
    assert p.value("1.2.3.4", "keep") == "1.2.3.4"
    assert p.text("version 10.0.19045.3803, 14:23:05") == "version 10.0.19045.3803, 14:23:05"


def test_unknown_column_kind_is_refused(store: CaseStore) -> None:
    case = store.new_case(reference="r", engineer="e")
    with pytest.raises(CaseStoreError, match="Unknown column kind"):
        case.add_table("t", pd.DataFrame({"a": ["x"]}), kinds={"a": "phone"})
    with pytest.raises(CaseStoreError, match="does not have"):
        case.add_table("t", pd.DataFrame({"a": ["x"]}), kinds={"b": "user"})
    assert case.table_names() == []


def test_key_file_is_private_and_checked(tmp_path: Path, clock: FixedClock) -> None:
    store = CaseStore(tmp_path / "s", clock=clock)
    key = store.root / KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600
    assert store.root.stat().st_mode & 0o777 == 0o700
    os.chmod(key, 0o644)
    with pytest.raises(CaseStoreError, match="chmod 600"):
        CaseStore(store.root, clock=clock)
    os.chmod(key, 0o600)
    key.write_bytes(b"short")
    with pytest.raises(CaseStoreError, match="damaged"):
        CaseStore(store.root, clock=clock)
