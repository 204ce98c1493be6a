"""Engineers verified by the organisation's CA: issue, verify, refuse, revoke."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import zvkdiag
from zvkdiag.consent.model import FailedTry, SessionStarted
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.trust import ca
from zvkdiag.trust.verify import TrustConfig


@pytest.fixture
def org(tmp_path: Path) -> Path:
    folder = tmp_path / "ca"
    ca.init_ca(folder)
    return folder


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run(
        [sys.executable, "-m", "zvkdiag", *args],
        cwd=cwd,
        text=True,
        capture_output=True,
        check=False,
    )


def test_ca_cli_issues_a_certificate_ssh_keygen_can_read(tmp_path: Path) -> None:
    assert _cli("ca", "init", "org", cwd=tmp_path).returncode == 0
    assert (tmp_path / "org" / "ca").stat().st_mode & 0o077 == 0
    done = _cli(
        "ca", "issue", "--ca", "org", "--name", "Erika Muster", "--days", "30", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    cert = tmp_path / "erika-muster-cert.pub"
    listing = subprocess.run(
        ["ssh-keygen", "-L", "-f", str(cert)], capture_output=True, text=True, check=True
    ).stdout
    assert "Erika Muster" in listing and "user certificate" in listing
    again = _cli("ca", "init", "org", cwd=tmp_path)
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr


def _trusted_agent(relay: RelayThread, org: Path, ui: AutoConsent) -> AgentThread:
    return AgentThread(
        ui, relay=relay.address, trust=TrustConfig.load(org / "ca.pub", org / "revoked.txt")
    )


def test_certified_engineer_is_shown_verified(
    relay: RelayThread, org: Path, tmp_path: Path
) -> None:
    ca.issue(org, "Erika Muster", days=1, out_dir=tmp_path)
    ui = AutoConsent()
    with (
        _trusted_agent(relay, org, ui) as a,
        zvkdiag.connect(
            a.session_id,
            a.password,
            relay=relay.address,
            engineer="Somebody Else",
            identity=str(tmp_path / "erika-muster"),
        ) as s,
    ):
        assert s.run(["true"]).ok
        assert s.info["verified"] is True
        (connected,) = [r for r in s.audit() if r["kind"] == "session-connected"]
        assert connected["engineer"] == "Erika Muster" and connected["verified"] is True
    first = ui.requests[0]
    assert (
        first.engineer == "Erika Muster" and first.engineer_verified
    )  # the certificate's name wins
    assert any(isinstance(e, SessionStarted) and e.engineer_verified for e in ui.events)


def test_uncertified_engineer_never_reaches_the_customer(relay: RelayThread, org: Path) -> None:
    ui = AutoConsent()
    with _trusted_agent(relay, org, ui) as a:
        with pytest.raises(zvkdiag.AuthenticationFailed, match="certificate"):
            zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="Scammer")
        assert not ui.requests
        assert ui.wait_for(lambda: any(isinstance(e, FailedTry) for e in ui.events))


def test_foreign_ca_expired_and_revoked_certificates_are_refused(
    relay: RelayThread, org: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca"
    ca.init_ca(other)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ca.issue(other, "Mallory", out_dir=tmp_path / "a")
    cert = ca.issue(org, "Erika Muster", out_dir=tmp_path / "b")
    ca.revoke(org, cert)
    ui = AutoConsent()
    with _trusted_agent(relay, org, ui) as a:
        for identity in (tmp_path / "a" / "mallory", tmp_path / "b" / "erika-muster"):
            with pytest.raises(zvkdiag.AuthenticationFailed, match="certificate"):
                zvkdiag.connect(
                    a.session_id,
                    a.password,
                    relay=relay.address,
                    engineer="x",
                    identity=str(identity),
                )
        assert not ui.requests


def test_expiry_is_checked_against_the_clock(org: Path, tmp_path: Path) -> None:
    from zvkdiag.trust.verify import NotVerified, verify_engineer

    cert = ca.issue(org, "Erika Muster", days=1, out_dir=tmp_path)
    key = (tmp_path / "erika-muster.pub").read_text()
    trust = TrustConfig.load(org / "ca.pub")
    assert verify_engineer("x", key, cert.read_text(), trust).verified
    late = TrustConfig(trust.ca_keys, clock=lambda: time.time() + 2 * 86400)
    with pytest.raises(NotVerified, match="expired"):
        verify_engineer("x", key, cert.read_text(), late)
    other_key = (org / "ca.pub").read_text()
    with pytest.raises(NotVerified, match="another key"):
        verify_engineer("x", other_key, cert.read_text(), trust)


def test_without_a_ca_the_name_is_marked_unverified(
    agent: AgentThread, relay: RelayThread, consent: AutoConsent
) -> None:
    with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E") as s:
        assert s.info["verified"] is False
    assert consent.requests[0].engineer_verified is False
