"""The hash-chained audit log: writing, continuing, and finding the broken record."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from pathlib import Path

import pytest

from zvkdiag.consent.audit import (
    GENESIS,
    AuditedUI,
    AuditLog,
    audit_verify_main,
    default_audit_path,
    verify,
)
from zvkdiag.consent.model import (
    CodeIssued,
    ConsentRequest,
    Decision,
    EngineerMessage,
    Scope,
    SessionStarted,
)
from zvkdiag.testing.fakes_ui import AutoConsentUI


def write(path: Path, n: int = 5) -> list[dict[str, object]]:
    with AuditLog(path, fsync=False) as log:
        return [log.record("message", text=f"Nachricht {i}") for i in range(n)]


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def test_records_chain_each_line_to_the_previous_bytes(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    records = write(path, 3)
    raw = lines(path)
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == GENESIS
    assert records[1]["prev"] == hashlib.sha256(raw[0]).hexdigest()
    assert records[2]["prev"] == hashlib.sha256(raw[1]).hexdigest()
    assert json.loads(raw[2]) == records[2]
    assert str(records[0]["ts"]).endswith("+00:00")
    assert str(verify(path)) == "OK: 3 records"


def test_reopening_continues_the_chain(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    write(path, 2)
    with AuditLog(path, fsync=False) as log:
        third = log.record("transfer", scope="file.download", path="a.txt", bytes_sent=12)
    assert third["seq"] == 3
    assert third["prev"] == hashlib.sha256(lines(path)[1]).hexdigest()
    assert verify(path).ok and verify(path).records == 3


@pytest.mark.parametrize("victim", [1, 3, 5])
def test_a_changed_byte_names_that_record(tmp_path: Path, victim: int):
    path = tmp_path / "audit.jsonl"
    write(path, 5)
    data = bytearray(path.read_bytes())
    start = sum(len(line) + 1 for line in lines(path)[: victim - 1])
    at = data.index(b"Nachricht", start) + 1
    data[at] = ord("X")  # still valid JSON: only the hashes can tell
    path.write_bytes(bytes(data))
    result = verify(path)
    assert not result.ok and result.broken_at == victim and result.code == "hash"
    assert str(result) == f"BROKEN at record {victim}: {result.reason}"


def test_a_removed_record_is_named(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    write(path, 4)
    raw = lines(path)
    path.write_bytes(b"\n".join(raw[:1] + raw[2:]) + b"\n")
    result = verify(path)
    assert (result.ok, result.broken_at, result.code) == (False, 2, "seq")


def test_a_consistently_rewritten_record_breaks_the_link(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    write(path, 3)
    raw = lines(path)
    forged = json.loads(raw[1])
    forged["text"] = "harmlos"
    body = {k: v for k, v in forged.items() if k != "hash"}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    forged["hash"] = hashlib.sha256(canonical.encode()).hexdigest()
    raw[1] = json.dumps(forged, ensure_ascii=False, separators=(",", ":")).encode()
    path.write_bytes(b"\n".join(raw) + b"\n")
    result = verify(path)
    assert (result.broken_at, result.code) == (3, "link")


def test_truncated_last_line_is_named_and_the_log_continues_after_it(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    write(path, 3)
    path.write_bytes(path.read_bytes()[:-20])
    result = verify(path)
    assert (result.ok, result.records, result.broken_at, result.code) == (False, 3, 3, "json")
    with AuditLog(path, fsync=False) as log:
        fourth = log.record("message", text="weiter")
    assert fourth["seq"] == 4
    assert verify(path).broken_at == 3  # the damage stays visible; nothing is lost
    assert json.loads(lines(path)[3])["text"] == "weiter"


def test_empty_file_is_a_valid_empty_log(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    assert str(verify(path)) == "OK: 0 records"
    with AuditLog(path, fsync=False) as log:
        assert log.record("message", text="erste")["prev"] == GENESIS


def test_secrets_and_reserved_fields_are_refused(tmp_path: Path):
    with AuditLog(tmp_path / "a.jsonl", fsync=False) as log:
        for name in ("password", "new_Password", "claim_token", "kennwort"):
            with pytest.raises(ValueError, match="secret"):
                log.record("code.issued", **{name: "abcd-efgh"})
        with pytest.raises(ValueError, match="set by the log"):
            log.record("message", seq=7)
        with pytest.raises(ValueError, match="JSON"):
            log.record("message", text=object())
    assert (tmp_path / "a.jsonl").read_bytes() == b""


def test_threads_share_one_chain(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, fsync=False) as log:
        workers = [
            threading.Thread(
                target=lambda: [log.record("transfer", bytes_sent=i) for i in range(50)]
            )
            for _ in range(4)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert str(verify(path)) == "OK: 200 records"


def test_on_record_mirrors_every_record(tmp_path: Path):
    mirrored: list[dict[str, object]] = []
    with AuditLog(tmp_path / "a.jsonl", on_record=mirrored.append, fsync=False) as log:
        written = log.record("message", text="Hallo")
    assert mirrored == [written]


def test_cli_prints_verdict_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "audit.jsonl"
    write(path, 2)
    assert audit_verify_main([str(path)]) == 0
    assert capsys.readouterr().out == "OK: 2 records\n"
    path.write_bytes(path.read_bytes().replace(b"Nachricht 1", b"Nachricht 9"))
    assert audit_verify_main([str(path)]) == 1
    assert capsys.readouterr().out.startswith("BROKEN at record 2: ")
    assert audit_verify_main([str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_default_path_is_in_the_user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_audit_path() == tmp_path / "zvkdiag" / "audit.jsonl"


def test_audited_ui_logs_questions_answers_and_events_but_no_password(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    inner = AutoConsentUI([Decision.ALLOW, Decision.DENY])
    with AuditLog(path, fsync=False) as log:
        ui = AuditedUI(inner, log)
        ui.show(CodeIssued("123456789", "k7mp3qaz"))
        ui.show(SessionStarted("Erika Muster", engineer_verified=True))
        command = ConsentRequest(Scope.COMMAND, "Erika Muster", True, {"argv": ["ipconfig"]})
        first = asyncio.run(ui.ask(command))
        second = asyncio.run(ui.ask(ConsentRequest(Scope.SCREEN_VIEW, "Erika Muster")))
        ui.show(EngineerMessage("Ich schaue mir jetzt Ihre Festplatte an."))
    assert (first, second) == (Decision.ALLOW, Decision.DENY)
    assert len(inner.shown) == 3 and inner.asked[0] is command
    text = path.read_text()
    assert "k7mp3qaz" not in text and "123456789" not in text
    kinds = [json.loads(line)["kind"] for line in text.splitlines()]
    assert kinds == [
        "code.issued", "session.start", "request", "decision", "request", "decision", "message",
    ]  # fmt: skip
    request = json.loads(text.splitlines()[2])
    assert request["detail"] == {"argv": ["ipconfig"]} and request["scope"] == "command"
    assert json.loads(text.splitlines()[5])["decision"] == "deny"
    assert verify(path).ok
