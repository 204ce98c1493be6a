"""Probes through the real relay and agent: consent, previews, typed DataFrames, no secrets."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

import zvkdiag
from zvkdiag.consent.model import Scope
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread


def test_catalog_and_one_probe_typed(
    agent: AgentThread, relay: RelayThread, consent: AutoConsent
) -> None:
    with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E") as s:
        cat = s.probes()
        assert {"os", "processes", "storage", "network_config"} <= set(cat["name"])
        df = s.probe("storage")
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    assert df.attrs["probe"] == "storage"
    for column, dtype in zvkdiag.probes.DEFAULT_REGISTRY.get("storage").columns.items():  # type: ignore[attr-defined]
        assert str(df[column].dtype) == dtype
    ask = consent.requests[1]
    assert ask.scope is Scope.PROBE and ask.detail["probes"][0]["name"] == "storage"  # type: ignore[index]


def test_unknown_probe_suggests_names_without_asking(
    agent: AgentThread, relay: RelayThread, consent: AutoConsent
) -> None:
    with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E") as s:
        with pytest.raises(zvkdiag.UnknownProbe, match="processes"):
            s.probe("proceses")
    assert len(consent.requests) == 1  # only the session itself


def _preview_refuses(name: str):  # type: ignore[no-untyped-def]
    def rule(request):  # type: ignore[no-untyped-def]
        return not ("preview_de" in request.detail and request.detail["probes"][0]["name"] == name)

    return rule


def test_collect_with_one_preview_refused(relay: RelayThread) -> None:
    ui = AutoConsent(_preview_refuses("processes"))
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        res = s.collect(["os", "processes", "storage"])
        assert res.refused == ["processes"] and set(res) == {"os", "storage"}
        with pytest.raises(zvkdiag.ConsentDenied, match="processes"):
            s.probe("processes")
    probe_questions = [q for q in ui.requests if q.scope is Scope.PROBE]
    assert len(probe_questions[0].detail["probes"]) == 3  # type: ignore[arg-type]  # one question for all
    assert "preview_de" in probe_questions[1].detail  # then the rows, before sending


def test_consent_denied_for_probes(relay: RelayThread) -> None:
    with (
        AgentThread(AutoConsent(deny={"probe"}), relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        with pytest.raises(zvkdiag.ConsentDenied):
            s.collect(["os", "storage"])


def test_secrets_in_argv_and_environment_never_reach_the_engineer(relay: RelayThread) -> None:
    secret = "Sup3rGeheim-4711"
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", f"--password={secret}"],
        env={**os.environ, "ZVK_TEST_TOKEN": secret},
    )
    os.environ["ZVK_SECRET_FOR_TEST"] = secret
    try:
        with (
            AgentThread(relay=relay.address) as a,
            zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
        ):
            res = s.collect(["processes", "environment"])
            text = "".join(df.to_csv() for df in res.values())
            assert str(child.pid) in text  # the process is there ...
            assert secret not in text  # ... its secret is not
            assert secret not in str(s.audit())
    finally:
        child.kill()
        os.environ.pop("ZVK_SECRET_FOR_TEST", None)
