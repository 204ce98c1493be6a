"""A session with a case: probe tables, downloads and the audit trail land in the case folder."""

from __future__ import annotations

from pathlib import Path

import zvkdiag
from zvkdiag.cases import CaseStore
from zvkdiag.testing.fakes import AgentThread, RelayThread


def test_session_fills_its_case(agent: AgentThread, relay: RelayThread, tmp_path: Path) -> None:
    store = CaseStore(tmp_path / "cases")
    case = store.new_case(reference="ZVK-4711", engineer="Erika Muster")
    src = tmp_path / "app.log"
    src.write_text("Fehler 42\n")
    with zvkdiag.connect(
        agent.session_id, agent.password, relay=relay.address, engineer="Erika Muster", case=case
    ) as s:
        s.collect(["os", "storage"])
        got = s.download(str(src), progress=False)
        assert got.parent == case.files_dir and got.read_text() == "Fehler 42\n"
    assert set(case.table_names()) >= {"os", "storage"}
    software = store.table("storage")
    assert set(software["case_id"]) == {case.case_id}
    kinds = [r["kind"] for r in case.audit()]
    assert "file.sent" in kinds and "decision" in kinds
    assert store.cases().loc[0, "closed"] is not None
