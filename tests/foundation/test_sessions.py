"""Real relay, real agent, real SSH on loopback; consent answered by the AutoConsent fake."""

from __future__ import annotations

import socket
import time

import pytest

import zvkdiag
from zvkdiag.consent.model import Scope, SessionEnded, SessionStarted
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.proxies import TcpProxy


def test_connect_run_and_close(
    agent: AgentThread, relay: RelayThread, consent: AutoConsent
) -> None:
    with zvkdiag.connect(
        agent.session_id.replace("", " "),
        agent.password.upper(),
        relay=relay.address,
        engineer="Erika Muster",
    ) as s:
        r = s.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        assert (r.stdout, r.stderr, r.exit_status) == ("out\n", "err\n", 3)
    assert [q.scope for q in consent.requests] == [Scope.SESSION, Scope.COMMAND]
    assert consent.requests[0].engineer == "Erika Muster"
    assert consent.requests[1].detail["argv"] == ["sh", "-c", "echo out; echo err >&2; exit 3"]
    assert consent.wait_for(lambda: any(isinstance(e, SessionEnded) for e in consent.events))


def test_password_is_replaced_after_each_session(agent: AgentThread, relay: RelayThread) -> None:
    old = agent.password
    with zvkdiag.connect(agent.session_id, old, relay=relay.address, engineer="E"):
        pass
    assert agent.ui.wait_for(lambda: agent.password != old)
    with pytest.raises(zvkdiag.AuthenticationFailed):
        zvkdiag.connect(agent.session_id, old, relay=relay.address, engineer="E")
    assert agent.out.lines()[-1] == f"Password: {agent.password}"


def test_wrong_password_three_times_then_old_password_fails(
    agent: AgentThread, relay: RelayThread
) -> None:
    right = agent.password
    wrong = "zzzz-zzzz" if right != "zzzz-zzzz" else "yyyy-yyyy"
    for left in (2, 1, 0):
        with pytest.raises(zvkdiag.AuthenticationFailed, match="password is wrong") as info:
            zvkdiag.connect(agent.session_id, wrong, relay=relay.address, engineer="E")
        assert info.value.tries_left == left
    with pytest.raises(zvkdiag.AuthenticationFailed):
        zvkdiag.connect(agent.session_id, right, relay=relay.address, engineer="E")
    assert agent.password != right
    fails = [e for e in agent.ui.events if type(e).__name__ == "FailedTry"]
    assert len(fails) >= 3  # the customer saw every failed try
    with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E") as s:
        assert s.run(["true"]).ok


def test_consent_denied_for_session(relay: RelayThread) -> None:
    with AgentThread(AutoConsent(False), relay=relay.address) as a:
        with pytest.raises(zvkdiag.ConsentDenied) as info:
            zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E")
        assert info.value.scope == "session"


def test_consent_denied_for_one_command_keeps_session(relay: RelayThread) -> None:
    ui = AutoConsent(deny={"command"})
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        with pytest.raises(zvkdiag.ConsentDenied, match="declined"):
            s.run(["id"])
        s.say("still here")
        assert any(type(e).__name__ == "EngineerMessage" for e in ui.events)


def test_unanswered_question_counts_as_no(relay: RelayThread) -> None:
    ui = AutoConsent(True, delay=5)
    with AgentThread(ui, relay=relay.address, consent_timeout=0.3) as a:
        with pytest.raises(zvkdiag.ConsentDenied, match="did not answer"):
            zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E")


def test_unknown_id_and_unreachable_relay(relay: RelayThread) -> None:
    with pytest.raises(zvkdiag.PeerNotFound, match="No customer"):
        zvkdiag.connect("123 456 789", "abcd-efgh", relay=relay.address, engineer="E")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connection refused
        with pytest.raises(zvkdiag.ConnectError, match=f"127.0.0.1:{port}") as info:
            zvkdiag.connect("123 456 789", "abcd-efgh", relay=f"127.0.0.1:{port}", engineer="E")
    assert info.value.address == f"127.0.0.1:{port}"


def test_customer_ends_session_engineer_gets_session_closed(
    agent: AgentThread, relay: RelayThread
) -> None:
    s = zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E")
    assert agent.ui.wait_for(lambda: any(isinstance(e, SessionStarted) for e in agent.ui.events))
    agent.agent.end_session()
    deadline = time.monotonic() + 5
    while not s.closed and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(zvkdiag.SessionClosed):
        s.run(["true"])
    s.close()
    with pytest.raises(zvkdiag.SessionNotOpen):
        s.run(["true"])


def test_command_is_killed_when_the_session_ends(
    agent: AgentThread, relay: RelayThread, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "still-running"
    s = zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E")
    fut = s._lt.submit(s.arun(["sh", "-c", f"sleep 3; touch {marker}"]))
    time.sleep(0.5)
    agent.agent.end_session()
    with pytest.raises(zvkdiag.SessionClosed):
        fut.result(10)
    time.sleep(3.5)
    assert not marker.exists()
    s.close()


def test_direct_mode(consent: AutoConsent) -> None:
    with (
        AgentThread(consent, listen="127.0.0.1:0") as a,
        zvkdiag.connect(a.session_id, a.password, direct=a.address, engineer="E") as s,
    ):
        assert s.run(["echo", "direkt"]).stdout == "direkt\n"


def test_recording_relay_sees_no_secrets(agent: AgentThread, relay: RelayThread) -> None:
    secret_output = "geheime-ausgabe-4711"
    with TcpProxy(relay.address) as spy:
        password = agent.password
        with zvkdiag.connect(agent.session_id, password, relay=spy.address, engineer="E") as s:
            assert s.run(["echo", secret_output]).stdout.strip() == secret_output
        seen = spy.seen()
    assert len(seen) > 1000  # it did carry the whole session
    for needle in (password, password.replace("-", ""), secret_output, "echo", "Erika"):
        assert needle.encode() not in seen
    assert b"ZVK1 CONNECT" in seen  # only the handshake is plaintext


@pytest.mark.parametrize("offset", [40, 120, 600, 2500])
def test_tampering_relay_is_detected(agent: AgentThread, relay: RelayThread, offset: int) -> None:
    from zvkdiag.testing.proxies import flip_byte_after

    with TcpProxy(relay.address, rewrite=flip_byte_after(offset)) as evil:
        with pytest.raises(zvkdiag.ZvkdiagError) as info:
            with zvkdiag.connect(
                agent.session_id, agent.password, relay=evil.address, engineer="E"
            ) as s:
                s.run(["echo", "x" * 4000])
    assert isinstance(
        info.value,
        (
            zvkdiag.TamperingDetected,
            zvkdiag.AuthenticationFailed,
            zvkdiag.SessionClosed,
            zvkdiag.ProtocolError,
        ),
    )
    assert str(info.value)


def test_engineer_receives_this_sessions_audit_records(
    agent: AgentThread, relay: RelayThread
) -> None:
    from zvkdiag.consent.audit import verify

    first = agent.password
    with zvkdiag.connect(agent.session_id, first, relay=relay.address, engineer="E") as s:
        s.run(["true"])
        s.say("Hallo")
        records = s.audit()
    kinds = [r["kind"] for r in records]
    assert kinds[:3] == ["session-connected", "request", "decision"]  # then the session question
    assert records[0]["engineer"] == "E" and records[0]["verified"] is False  # no CA here
    assert "message" in kinds and "command.result" in kinds
    assert all("password" not in str(r).lower() for r in records)
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert agent.agent.audit_log is not None
    assert verify(agent.agent.audit_log.path).ok
    second = agent.fresh_password(first)
    with zvkdiag.connect(agent.session_id, second, relay=relay.address, engineer="F") as s2:
        assert min(r["seq"] for r in s2.audit()) > max(seqs)  # never another session's records


def test_request_events_follow_each_request(relay: RelayThread) -> None:
    ui = AutoConsent(deny={"command"})
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        seen: list[tuple[int, str, str]] = []
        s.listeners.append(lambda e: seen.append((e.seq, e.summary, e.state)))
        s.say("Hallo")
        with pytest.raises(zvkdiag.ConsentDenied):
            s.run(["ls", "-l"])
    assert seen == [
        (2, "say", "pending"),
        (2, "say", "allowed"),
        (3, "command: ls -l", "pending"),
        (3, "command: ls -l", "denied"),
    ]


def test_a_failing_op_does_not_end_the_session(relay: RelayThread) -> None:
    from zvkdiag.agent.catalog import default_ops
    from zvkdiag.agent.ops import OpContext

    async def broken(ctx: OpContext) -> int:
        raise ValueError("a bug in an op")

    ops = default_ops()
    ops.register("broken", broken)
    with (
        AgentThread(AutoConsent(), relay=relay.address, ops=ops) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        with pytest.raises(zvkdiag.ZvkdiagError, match="failed on this request"):
            s.call(s.open_op("broken"))
        assert s.run(["echo", "still here"]).stdout == "still here\n"
