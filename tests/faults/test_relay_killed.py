"""The relay dies mid-session: both sides notice, nothing collected is lost, the agent offers again.

The relay is a real child process (``python -m zvkdiag relay``).  The 5 s bound
is the functional deadline named in issue 8 (how long a customer may look at a
dead session), not a performance figure.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import zvkdiag
from zvkdiag.cases import CaseStore
from zvkdiag.consent.model import ConnectionInterrupted, SessionEnded, SessionStarted
from zvkdiag.resume.transport import DEAD_AFTER, HEARTBEAT
from zvkdiag.testing.fakes import AgentThread, AutoConsent
from zvkdiag.testing.procs import Proc

NOTICE_DEADLINE = 5.0
GRACE = 1.0  # both sides try to resume this long (60 s in production); tests/resume covers it
REOFFER_TIMEOUT = 30.0  # the agent's retry backoff tops out at 5 s between tries


@pytest.fixture
def relay_proc() -> Iterator[list[Proc]]:
    procs: list[Proc] = []
    yield procs
    for p in procs:
        if p.proc.poll() is None:
            os.kill(p.proc.pid, signal.SIGCONT)  # in case a test left it frozen
        p.stop()


def _start_relay(procs: list[Proc], listen: str = "127.0.0.1:0") -> str:
    p = Proc("relay", "--listen", listen)
    procs.append(p)
    return p.expect(r"Relay listening on (\S+)").group(1)


def _notice_times(predicates: dict[str, Callable[[], bool]], timeout: float) -> dict[str, float]:
    """Seconds from now until each predicate first held (inf if never), polled together."""
    start, seen = time.monotonic(), {name: float("inf") for name in predicates}
    while time.monotonic() - start < timeout and float("inf") in seen.values():
        for name, ok in predicates.items():
            if seen[name] == float("inf") and ok():
                seen[name] = time.monotonic() - start
        time.sleep(0.02)
    return seen


def _session_with_probe(
    agent: AgentThread, address: str, tmp_path: Path
) -> tuple[zvkdiag.Session, CaseStore, str]:
    store = CaseStore(tmp_path / "cases")
    case = store.new_case(reference="ZVK-8", engineer="Erika Muster")
    s = zvkdiag.connect(
        agent.session_id,
        agent.password,
        relay=address,
        engineer="Erika Muster",
        case=case,
        resume_grace=GRACE,
    )
    s.probe("os")
    assert agent.ui.wait_for(lambda: any(isinstance(e, SessionStarted) for e in agent.ui.events))
    return s, store, case.case_id


def _sides(s: zvkdiag.Session, ui: AutoConsent) -> dict[str, Callable[[], bool]]:
    return {
        "engineer": lambda: s.closed,
        "customer": lambda: any(isinstance(e, SessionEnded) for e in ui.events),
    }


def test_relay_killed_mid_session(relay_proc: list[Proc], tmp_path: Path) -> None:
    """Not back within the resumption grace: the session ends on both sides, nothing is lost."""
    address = _start_relay(relay_proc)
    ui = AutoConsent()
    with AgentThread(ui, relay=address, resume_grace=GRACE) as agent:
        s, store, case_id = _session_with_probe(agent, address, tmp_path)
        id_before, old_password = agent.session_id, agent.password

        relay_proc[0].proc.kill()  # SIGKILL: no goodbye from the relay
        seen = _notice_times(_sides(s, ui), NOTICE_DEADLINE * 3)
        print(f"killed relay noticed after: {seen}")
        assert max(seen.values()) < NOTICE_DEADLINE + GRACE, seen
        assert any(isinstance(e, ConnectionInterrupted) for e in ui.events)
        with pytest.raises(zvkdiag.SessionClosed):
            s.run(["true"])
        s.close()

        # a new relay on the same address: the agent offers again with a new password, and
        # the relay takes it back under the ID the customer already reads out
        _start_relay(relay_proc, address)
        assert agent.password != old_password
        said = [line for line in agent.out.lines() if line.startswith("Password:")]
        assert said[-1] == f"Password: {agent.password}"  # "Network: …" lines may follow
        with agent.connect_once_offered(address, REOFFER_TIMEOUT) as s2:
            assert s2.run(["echo", "wieder da"]).stdout == "wieder da\n"
        assert agent.session_id == id_before
        kinds = [json.loads(line)["kind"] for line in agent.audit_path().read_text().splitlines()]
        assert "network-problem" in kinds and kinds.count("route") >= 1  # said, then offered on

    case = CaseStore(tmp_path / "cases").open(case_id)
    assert "os" in case.table_names()
    assert len(case.table("os")) == 1  # what was collected before the crash is all there


def test_relay_frozen_mid_session_is_noticed_by_the_heartbeat(
    relay_proc: list[Proc], tmp_path: Path
) -> None:
    """A relay host that goes silent (no FIN, no RST) is found out by the stream's heartbeat."""
    address = _start_relay(relay_proc)
    ui = AutoConsent()
    bound = DEAD_AFTER + HEARTBEAT + GRACE + 1.0
    with AgentThread(ui, relay=address, resume_grace=GRACE) as agent:
        s, _, _ = _session_with_probe(agent, address, tmp_path)
        os.kill(relay_proc[0].proc.pid, signal.SIGSTOP)
        seen = _notice_times(_sides(s, ui), bound * 2)
        print(f"frozen relay noticed after: {seen}")
        assert max(seen.values()) < bound, seen
        with pytest.raises(zvkdiag.SessionClosed):
            s.run(["true"])
        s.close()


def test_heartbeat_settings_notice_a_silent_relay_within_5_s() -> None:
    assert DEAD_AFTER + HEARTBEAT <= NOTICE_DEADLINE
