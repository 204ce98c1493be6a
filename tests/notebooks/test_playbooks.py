"""Every playbook runs headless (papermill) against the real relay and agent on loopback.

The customer's side is the agent with the auto-answering consent fake, in this
process; the notebook runs in a kernel of this venv and connects like an
engineer would.  Thresholds are set so that some verdicts are certain on any
machine, which is what the assertions check besides "no cell failed".
"""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path
from typing import Any

import nbformat
import pytest

from zvkdiag.cases import Case, CaseStore
from zvkdiag.consent.model import ConsentRequest
from zvkdiag.playbooks import run_playbook, synthetic_store
from zvkdiag.probes.runner import run_probe
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread

from .helpers import NOTEBOOKS, make_ca_and_cert

PLAYBOOKS = sorted(p.name for p in NOTEBOOKS.glob("[1-8]*.ipynb"))


def _run(
    name: str, tmp_path: Path, kernel: str, agent: AgentThread, relay: RelayThread, **extra: Any
) -> tuple[Case, Path]:
    store = CaseStore(tmp_path / "cases")
    case = store.new_case(reference="ZVK-2026-0815", engineer="Erika Muster")
    params = {
        "relay": relay.address,
        "session_id": agent.session_id,
        "password": agent.password,  # fresh: the agent rotates it after every session
        "engineer": "Erika Muster",
        "reference": "ZVK-2026-0815",
        **extra,
    }
    out = run_playbook(
        NOTEBOOKS / name,
        tmp_path / f"executed-{name}",
        parameters=params,
        case=case,
        kernel_name=kernel,
        cwd=tmp_path,
    )
    return store.open(case.case_id), out


def _verdicts(case: Case) -> dict[str, str]:
    return {f.step: f.status.value for f in case.findings}


def _texts(case: Case) -> dict[str, str]:
    return {f.step: f.text for f in case.findings}


def _assert_filed(case: Case, steps: set[str]) -> None:
    """Findings, report, executed notebook and the customer's audit slice are in the case."""
    assert steps <= set(_verdicts(case)), _verdicts(case)
    report = (case.path / "report.html").read_text(encoding="utf-8")
    for step in steps:
        assert step in report
    manifest = case.manifest
    assert manifest.closed is not None and manifest.notebook == "notebook.ipynb"
    stored = nbformat.read(case.path / "notebook.ipynb", as_version=4)
    assert any(c.get("outputs") for c in stored.cells if c.cell_type == "code")
    kinds = {r["kind"] for r in case.audit()}
    assert "decision" in kinds


def test_pc_slow(tmp_path: Path, kernel: str, agent: AgentThread, relay: RelayThread) -> None:
    case, _ = _run(
        "10_pc_slow.ipynb",
        tmp_path,
        kernel,
        agent,
        relay,
        uptime_warn_days=0.0,  # any uptime is at least this: the threshold must bite
        uptime_problem_days=100000.0,
        memory_warn_percent=0.0,
        memory_problem_percent=0.0,
    )
    steps = {f"slow.{s}" for s in ("uptime", "load", "programs", "system_drive", "autostart")}
    _assert_filed(case, steps | {"slow.reboot_pending", "slow.event_log"})
    verdicts = _verdicts(case)
    assert verdicts["slow.uptime"] == "warning"
    assert verdicts["slow.load"] == "problem"
    assert "memory" in _texts(case)["slow.load"]


def test_disk_full(tmp_path: Path, kernel: str, agent: AgentThread, relay: RelayThread) -> None:
    big = tmp_path / "Downloads"
    big.mkdir()
    (big / "setup.iso").write_bytes(b"\0" * 3_000_000)
    missing = tmp_path / "not-there"
    case, _ = _run(
        "20_disk_full.ipynb",
        tmp_path,
        kernel,
        agent,
        relay,
        folders=[str(big), str(missing)],
        folder_warn_gb=0.002,  # 3 MB is over, so the folder is named
        warn_percent=0.0,
        problem_percent=100.1,
    )
    _assert_filed(case, {f"disk.{s}" for s in ("drives", "system_drive", "folders", "programs")})
    verdicts, texts = _verdicts(case), _texts(case)
    assert verdicts["disk.folders"] == "warning"
    assert "Downloads: 2.9 MB" in texts["disk.folders"] and "not measured" in texts["disk.folders"]
    assert verdicts["disk.drives"] in ("warning", "problem")


@pytest.fixture
def portal(tmp_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """A plain TCP server, a TLS server the agent trusts, and a closed port, all on 127.0.0.1."""
    ca, cert, key = make_ca_and_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    # The agent runs in this process and verifies with the default trust store.
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    with socket.create_server(("127.0.0.1", 0)) as s:
        closed = int(s.getsockname()[1])
    return {"tcp": serve(None), "tls": serve(context), "closed": closed}


def test_portal_unreachable(
    tmp_path: Path, kernel: str, agent: AgentThread, relay: RelayThread, portal: dict[str, int]
) -> None:
    endpoints = [
        f"127.0.0.1:{portal['tcp']}",
        f"tls://127.0.0.1:{portal['tls']}",
        f"127.0.0.1:{portal['closed']}",
    ]
    case, _ = _run(
        "30_portal_unreachable.ipynb",
        tmp_path,
        kernel,
        agent,
        relay,
        endpoints=endpoints,
        endpoint_timeout=2.0,
    )
    _assert_filed(case, {f"portal.{s}" for s in ("dns", "tcp", "proxy", "tls", "clock")})
    verdicts, texts = _verdicts(case), _texts(case)
    assert verdicts["portal.dns"] == "ok"
    assert verdicts["portal.tcp"] == "problem"
    assert f"127.0.0.1:{portal['closed']}" in texts["portal.tcp"]
    assert f"127.0.0.1:{portal['tcp']}" not in texts["portal.tcp"]
    assert verdicts["portal.tls"] == "ok", texts["portal.tls"]
    assert verdicts["portal.clock"] == "ok"  # the customer is this machine


def test_portal_untrusted_certificate(
    tmp_path: Path,
    kernel: str,
    agent: AgentThread,
    relay: RelayThread,
    portal: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An intercepting proxy's certificate is what the TLS step exists to catch."""
    other = tmp_path / "other-ca"
    other.mkdir()
    make_ca_and_cert(other)  # a CA the server's certificate does not come from
    monkeypatch.setenv("SSL_CERT_FILE", str(other / "ca.pem"))
    case, _ = _run(
        "30_portal_unreachable.ipynb",
        tmp_path,
        kernel,
        agent,
        relay,
        endpoints=[f"tls://127.0.0.1:{portal['tls']}"],
        endpoint_timeout=2.0,
    )
    assert _verdicts(case)["portal.tls"] == "problem"
    assert "not trusted, issuer CN=ZVK Test CA" in _texts(case)["portal.tls"]


def test_printing_pdf(tmp_path: Path, kernel: str, agent: AgentThread, relay: RelayThread) -> None:
    case, _ = _run(
        "40_printing_pdf.ipynb",
        tmp_path,
        kernel,
        agent,
        relay,
        expected_printer="^Buchhaltung-Etage-9$",  # exists on no test machine
    )
    steps = ("printers", "printer_state", "spooler", "pdf", "print_errors", "temp_space")
    _assert_filed(case, {f"print.{s}" for s in steps})
    assert _verdicts(case)["print.printers"] == "problem"


def _installed_package() -> tuple[str, str]:
    records = run_probe("software").records
    named = [r for r in records if r.get("name") and r.get("version")]
    if not named:
        pytest.skip("the software probe finds no programs on this machine")
    first = named[0]
    return str(first["name"]), str(first["version"])


def test_software_versions(
    tmp_path: Path, kernel: str, agent: AgentThread, relay: RelayThread
) -> None:
    name, version = _installed_package()
    exact = f"^{name.replace('.', '[.]').replace('+', '[+]')}$"
    required = [
        {"name": "fits", "pattern": exact, "min_version": version},
        {"name": "too old", "pattern": exact, "min_version": version + ".1"},
        {"name": "too new", "pattern": exact, "min_version": "0", "max_version": "0.0.1"},
        {"name": "ZVK Datenübertragung", "min_version": "3.2.0"},
    ]
    case, _ = _run(
        "50_software_versions.ipynb",
        tmp_path,
        kernel,
        agent,
        relay,
        required=required,
        supported_platforms=["windows", "linux", "darwin"],
    )
    _assert_filed(case, {"versions.os", "versions.updates", "versions.reboot_pending"})
    verdicts = _verdicts(case)
    assert verdicts["versions.program: fits"] == "ok"
    assert verdicts["versions.program: too old"] == "problem"
    assert verdicts["versions.program: too new"] == "warning"
    assert verdicts["versions.program: ZVK Datenübertragung"] == "problem"


def test_second_level_analysis(
    tmp_path: Path, kernel: str, agent: AgentThread, relay: RelayThread
) -> None:
    root = tmp_path / "cases"
    synthetic_store(root, cases=24, seed=3)
    real, _ = _run(
        "20_disk_full.ipynb", tmp_path, kernel, agent, relay, folders=[str(tmp_path)]
    )  # one real case among the made-up ones
    out = run_playbook(
        NOTEBOOKS / "90_second_level_analysis.ipynb",
        tmp_path / "executed-90.ipynb",
        parameters={"case_root": str(root), "playbook": "portal"},
        kernel_name=kernel,
        cwd=tmp_path,
    )
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5, "every analysis section draws its plot"
    text = json.dumps([o.get("data", {}).get("text/plain", o.get("text", "")) for o in outputs])
    assert "25 cases since" in text
    assert "3.1.0" in text  # a version of the made-up transfer software in the version table
    assert real.case_id in text  # the real case shows up among the cases to look at or listed
    # Host names are pseudonymised in the store: none of the made-up PC names is visible.
    assert "PC-BUCH" not in text and "PC-LOHN" not in text


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_is_valid_and_has_no_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: clear outputs"


@pytest.mark.parametrize("name", [*PLAYBOOKS, "90_second_level_analysis.ipynb"])
def test_playbook_has_parameters_and_findings(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    if name in PLAYBOOKS:
        source = "\n".join(c.source for c in nb.cells)
        for needed in ("session_id", "password", "relay", "case_root", "reference", "engineer"):
            assert f"{needed} = " in tagged[0].source
        assert "pb.finding(" in source and "case.report()" in source
        assert "session.close()" in source


def test_playbooks_exist() -> None:
    assert PLAYBOOKS == [
        "10_pc_slow.ipynb",
        "20_disk_full.ipynb",
        "30_portal_unreachable.ipynb",
        "40_printing_pdf.ipynb",
        "50_software_versions.ipynb",
    ]


def test_pc_slow_when_the_customer_withholds_sensitive_probes(
    tmp_path: Path, kernel: str, relay: RelayThread
) -> None:
    """After the preview the customer may say "Nicht senden": those steps warn, the rest runs."""

    def no_previews(request: ConsentRequest) -> bool:
        return "preview_de" not in request.detail

    with AgentThread(AutoConsent(no_previews), relay=relay.address) as agent:
        case, _ = _run("10_pc_slow.ipynb", tmp_path, kernel, agent, relay)
    verdicts, texts = _verdicts(case), _texts(case)
    for step, probe in (("slow.programs", "processes"), ("slow.event_log", "event_log")):
        assert verdicts[step] == "warning"
        assert f"did not send '{probe}'" in texts[step]
    assert "slow.uptime" in verdicts and "slow.system_drive" in verdicts
    assert (case.path / "report.html").exists()
