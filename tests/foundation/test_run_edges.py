"""Edges of ``run`` and ``connect``: a missing program, output past the limit, no name."""

from __future__ import annotations

import socket
import warnings

import pytest

import zvkdiag
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread


def test_a_missing_program_raises_command_not_found(agent: AgentThread, relay: RelayThread) -> None:
    with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E") as s:
        with pytest.raises(zvkdiag.CommandNotFound, match="no-such-program-4711"):
            s.run(["no-such-program-4711", "--help"])
        assert s.run(["true"]).ok  # the session goes on


def test_output_past_16_mib_is_marked_and_warned(agent: AgentThread, relay: RelayThread) -> None:
    with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E") as s:
        with pytest.warns(UserWarning, match="16 MiB") as caught:
            r = s.run(["head", "-c", str(16 * 1024 * 1024 + 10), "/dev/zero"])
        assert caught[0].filename == __file__  # points at the caller's line
        assert r.truncated and len(r.stdout) == 16 * 1024 * 1024
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            exact = s.run(["head", "-c", str(16 * 1024 * 1024), "/dev/zero"])
        assert not exact.truncated and len(exact.stdout) == 16 * 1024 * 1024


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_an_empty_engineer_name_is_refused_before_any_network(name: str) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(ValueError, match="engineer"):
            zvkdiag.connect("123 456 789", "abcd-efgh", relay=address, engineer=name)
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody dialled


def test_command_not_found_keeps_consent_first(relay: RelayThread) -> None:
    ui = AutoConsent(deny={"command"})
    with (
        AgentThread(ui, relay=relay.address) as a,
        zvkdiag.connect(a.session_id, a.password, relay=relay.address, engineer="E") as s,
    ):
        with pytest.raises(zvkdiag.ConsentDenied):
            s.run(["no-such-program-4711"])  # the customer is asked before anything is looked up
