"""The connect panel and the consent feed without a browser, against a real relay and agent.

The widgets run without a kernel (ipywidgets then sends nowhere); the panel
gets the browser's Connect message through the same comm-callback path
ipywidgets uses.  What a saved notebook would hold is the widgets' state.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import ipywidgets
import pytest

import zvkdiag
from zvkdiag.engineer.session import RequestEvent
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.widgets import ConnectPanel, ConsentFeed
from zvkdiag.widgets.feed import MAX_ROWS, merge


def _click_connect(panel: ConnectPanel, agent: AgentThread, password: str) -> None:
    """What connect.js sends when Connect is pressed."""
    panel._on_custom_msg(
        panel,
        {
            "type": "connect",
            "password": password,
            "session_id": agent.session_id,
            "reference": "T-1",
            "engineer": "Erika Muster",
            "relay": panel.relay,
        },
        [],
    )


def _saved_state() -> str:
    return json.dumps(ipywidgets.Widget.get_manager_state(drop_defaults=False))


def test_merge_replaces_a_request_row_and_bounds_the_table() -> None:
    rows = merge([], RequestEvent(1, "probe", "probes: os", "pending"))
    rows = merge(rows, RequestEvent(1, "probe", "probes: os", "allowed"))
    rows = merge(rows, RequestEvent(2, "run", "command: ls", "denied", "no"))
    assert [(r["seq"], r["state"]) for r in rows] == [(1, "allowed"), (2, "denied")]
    for seq in range(3, MAX_ROWS + 10):
        rows = merge(rows, RequestEvent(seq, "say", "say", "allowed"))
    assert len(rows) == MAX_ROWS and rows[-1]["seq"] == MAX_ROWS + 9


def test_unknown_state_shows_as_failed() -> None:
    feed = ConsentFeed(initial=[RequestEvent(1, "x", "x", "weird")])
    assert feed.table[0]["state"] == "failed"


def test_panel_connects_follows_the_session_and_never_keeps_the_password(
    relay: RelayThread, agent: AgentThread
) -> None:
    panel = ConnectPanel(relay=relay.address, engineer="Erika Muster")
    assert panel.state == "idle" and not panel.password_preset
    _click_connect(panel, agent, agent.password)
    session = panel.wait(timeout=30)
    try:
        assert panel.state == "connected" and "Connected to" in panel.status
        assert panel.session is session
        session.say("Hallo")
        assert "Allowed: say" in panel.status
        assert [r["op"] for r in panel.feed.table] == ["session", "say"]
        assert all(r["state"] == "allowed" for r in panel.feed.table)
        state = _saved_state()
        assert agent.password not in state
        assert agent.password.replace("-", "") not in state
        assert not any(agent.password in repr(v) for v in vars(panel).values())
    finally:
        panel.disconnect()
        assert _until(lambda: panel.state == "closed")
    assert panel.status == "Closed: you ended the session."
    assert panel.session is None


def test_a_refused_session_shows_why_and_wait_raises_it(relay: RelayThread) -> None:
    with AgentThread(AutoConsent(False), relay=relay.address) as agent:
        panel = ConnectPanel(relay=relay.address, engineer="Erika Muster")
        _click_connect(panel, agent, agent.password)
        with pytest.raises(zvkdiag.ConsentDenied):
            panel.wait()  # no timeout: it returns as soon as the attempt failed
        assert panel.state == "failed"
        assert panel.status.startswith("Not connected:")
        with pytest.raises(zvkdiag.ConsentDenied):
            panel.wait()  # and again at once, for a later cell


def test_wait_raises_peer_not_found_while_waiting(relay: RelayThread) -> None:
    panel = ConnectPanel(relay=relay.address, engineer="Erika Muster")
    panel.session_id = "123 456 789"
    errors: list[BaseException] = []

    def waiter() -> None:
        try:
            panel.wait()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()  # blocked in wait() before Connect, as a cell would be
    panel.connect("abcd-efgh")
    thread.join(30)
    assert not thread.is_alive()
    assert isinstance(errors[0], zvkdiag.PeerNotFound)


def test_wait_before_connect_times_out_with_the_status(relay: RelayThread) -> None:
    panel = ConnectPanel(relay=relay.address, engineer="Erika Muster")
    with pytest.raises(TimeoutError, match="Enter the customer"):
        panel.wait(timeout=0.1)


def test_a_second_panel_takes_over_the_open_session(relay: RelayThread, agent: AgentThread) -> None:
    first = ConnectPanel(relay=relay.address, engineer="Erika Muster")
    _click_connect(first, agent, agent.password)
    session = first.wait(timeout=30)
    try:
        assert zvkdiag.sessions() == [session]
        second = ConnectPanel(relay=relay.address, engineer="Erika Muster")
        _click_connect(second, agent, "wxyz-wxyz")  # the password no longer matters
        assert second.state == "busy" and "already open" in second.status
        second._on_custom_msg(second, {"type": "take-over"}, [])
        assert second.wait(timeout=1) is session
        assert second.state == "connected"
        assert session.run(["true"]).ok
        assert zvkdiag.sessions() == [session]
    finally:
        session.close()
    assert zvkdiag.sessions() == []
    assert _until(lambda: second.state == "closed")


def test_a_second_panel_closes_the_open_session_and_connects_again(
    relay: RelayThread, agent: AgentThread
) -> None:
    first = ConnectPanel(relay=relay.address, engineer="Erika Muster")
    _click_connect(first, agent, agent.password)
    old = first.wait(timeout=30)
    old_password = agent.password
    second = ConnectPanel(relay=relay.address, engineer="Erika Muster")
    _click_connect(second, agent, old_password)
    assert second.state == "busy"
    second._on_custom_msg(second, {"type": "close-existing"}, [])
    assert _until(lambda: second.state == "idle")
    assert old.closed and first.state == "closed"
    assert "new password" in second.status
    assert zvkdiag.sessions() == []
    _click_connect(second, agent, agent.fresh_password(old_password))
    new = second.wait(timeout=30)
    try:
        assert new is not old and zvkdiag.sessions() == [new]
    finally:
        new.close()


def test_connect_names_the_open_session_instead_of_dialling(
    relay: RelayThread, agent: AgentThread
) -> None:
    with zvkdiag.connect(agent.session_id, agent.password, relay=relay.address, engineer="E") as s:
        with pytest.raises(zvkdiag.AlreadyConnected, match="already open") as info:
            zvkdiag.connect(agent.session_id, "wxyz-wxyz", relay=relay.address, engineer="E")
        assert info.value.session is s
    with pytest.raises(zvkdiag.AuthenticationFailed):  # closed: no longer in the way
        zvkdiag.connect(agent.session_id, "wxyz-wxyz", relay=relay.address, engineer="E")


def test_missing_entries_are_named_before_any_network(relay: RelayThread) -> None:
    panel = ConnectPanel(relay=relay.address, engineer="")
    panel.connect("abcd-efgh")
    assert panel.state == "failed" and "customer's ID" in panel.status
    panel.session_id = "123 456 789"
    panel.connect("abcd-efgh")
    assert "your name" in panel.status


def test_demo_credentials_prefill_the_id_and_supply_the_password(
    relay: RelayThread, agent: AgentThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"id": agent.session_id, "password": agent.password}))
    monkeypatch.setenv("ZVKDIAG_DEMO_CREDENTIALS", str(creds))
    monkeypatch.setenv("ZVKDIAG_RELAY", relay.address)
    monkeypatch.setenv("ZVKDIAG_ENGINEER", "Demo")
    panel = ConnectPanel()
    assert panel.session_id == agent.session_id and panel.password_preset
    assert agent.password not in _saved_state()
    panel.connect()  # the password field left empty
    session = panel.wait(timeout=30)
    session.close()


def test_case_store_gets_a_case_with_the_reference(
    relay: RelayThread, agent: AgentThread, tmp_path: Path
) -> None:
    from zvkdiag.cases import CaseStore

    store = CaseStore(tmp_path / "cases")
    panel = ConnectPanel(relay=relay.address, engineer="Erika Muster", case_store=store)
    _click_connect(panel, agent, agent.password)
    session = panel.wait(timeout=30)
    assert session.case is not None
    session.close()
    assert len(store.case_ids()) == 1


def test_server_config_turns_nagle_off() -> None:
    from jupyter_server.services.kernels.connection.channels import (
        ZMQChannelsWebsocketConnection,
    )
    from traitlets.utils.importstring import import_item

    from zvkdiag.jupyter import CONFIG_DIR

    config = json.loads((CONFIG_DIR / "jupyter_server_config.json").read_text())
    cls = import_item(config["ServerApp"]["kernel_websocket_connection_class"])
    assert issubclass(cls, ZMQChannelsWebsocketConnection)
    assert "connect" in vars(cls)


def _until(predicate: object, timeout: float = 15.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False
