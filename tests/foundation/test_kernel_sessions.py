"""Sessions belong to the process (the notebook's kernel): listed while open, closed at exit."""

from __future__ import annotations

import subprocess
import sys
import time

import zvkdiag
from zvkdiag.consent.model import ConnectionInterrupted, SessionEnded
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.procs import end

FORGETFUL_NOTEBOOK = """
import sys, zvkdiag
s = zvkdiag.connect(sys.argv[1], sys.argv[2], relay=sys.argv[3], engineer="E")
s = None  # the handle is gone, as after a re-run cell
assert len(zvkdiag.sessions()) == 1
print("connected", flush=True)
"""


def test_sessions_lists_open_ones_until_closed_or_lost(
    agent: AgentThread, relay: RelayThread
) -> None:
    assert zvkdiag.sessions() == []
    first = agent.password
    s = zvkdiag.connect(agent.session_id, first, relay=relay.address, engineer="E")
    assert zvkdiag.sessions() == [s]
    s.close()
    assert zvkdiag.sessions() == []
    lost = zvkdiag.connect(
        agent.session_id, agent.fresh_password(first), relay=relay.address, engineer="E"
    )
    agent.agent.end_session()  # the customer pressed "Beenden"
    deadline = time.monotonic() + 10
    while not lost.closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert zvkdiag.sessions() == []
    lost.close()


def test_interpreter_exit_closes_the_open_sessions(agent: AgentThread, relay: RelayThread) -> None:
    old = agent.password
    done = subprocess.run(
        [sys.executable, "-c", FORGETFUL_NOTEBOOK, agent.session_id, old, relay.address],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "connected" in done.stdout
    assert agent.ui.wait_for(lambda: any(isinstance(e, SessionEnded) for e in agent.ui.events))
    ended = [e for e in agent.ui.events if isinstance(e, SessionEnded)]
    assert ended[0].reason == "engineer"  # closed cleanly, not merely dropped
    assert agent.fresh_password(old) != old


HUNG_KERNEL = """
import sys, time, zvkdiag
s = zvkdiag.connect(sys.argv[1], sys.argv[2], relay=sys.argv[3], engineer="E")
print("connected", flush=True)
time.sleep(120)
"""


def test_a_killed_kernel_ends_the_customers_session(relay: RelayThread) -> None:
    """SIGKILL: no atexit, no goodbye; the customer's side waits out the resumption, then ends.

    A killed kernel looks like a dropped connection to the customer's side, so it
    tries to resume for ``resume_grace`` seconds (60 in production, 1 here).
    """
    with AgentThread(AutoConsent(), relay=relay.address, resume_grace=1.0) as agent:
        _killed_kernel(agent, relay)
        assert any(isinstance(e, ConnectionInterrupted) for e in agent.ui.events)


def _killed_kernel(agent: AgentThread, relay: RelayThread) -> None:
    old = agent.password
    proc = subprocess.Popen(
        [sys.executable, "-c", HUNG_KERNEL, agent.session_id, old, relay.address],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "connected"
        assert not any(isinstance(e, SessionEnded) for e in agent.ui.events)
        end(proc)
        assert agent.ui.wait_for(lambda: any(isinstance(e, SessionEnded) for e in agent.ui.events))
    finally:
        end(proc)
    ended = [e for e in agent.ui.events if isinstance(e, SessionEnded)]
    assert ended[0].reason in {"engineer", "network"}  # the indicator goes with either
    assert agent.fresh_password(old) != old
