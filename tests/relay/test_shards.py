"""Relays sharded by the ID's first digit: engineers reach every customer by ID alone."""

from __future__ import annotations

from pathlib import Path

import pytest

import zvkdiag
from zvkdiag.engineer.shards import ShardMap, relay_address
from zvkdiag.relay.state import PairingState
from zvkdiag.testing.fakes import AgentThread, AutoConsent
from zvkdiag.testing.procs import Proc
from zvkdiag.wire import codes
from zvkdiag.wire.handshake import Offer

from .test_drain import _free_port

REOFFER_TIMEOUT = 30.0


def test_ids_carry_the_shard_and_a_relay_takes_back_only_its_own() -> None:
    assert all(codes.new_id(3)[0] == "3" for _ in range(50))
    st = PairingState(shard=3, new_id=lambda: codes.new_id(3))
    assert (st.handle("c", Offer()).session_id or "")[0] == "3"
    claim = "c" * 32
    assert st.handle("x", Offer("312345678", claim)).kind == "offered"  # ours: taken back
    assert st.handle("y", Offer("112345678", claim)).reason == "claim-rejected"  # another's


def test_shard_map_errors_name_the_shard_or_the_file(tmp_path: Path) -> None:
    mapping = {"1": "127.0.0.1:1", "3": "127.0.0.1:3"}
    assert relay_address(mapping, "312345678") == "127.0.0.1:3"
    with pytest.raises(zvkdiag.ConnectError, match=r"shard 2, which relay=\{\.\.\.\} does not"):
        relay_address(mapping, "212345678")
    with pytest.raises(zvkdiag.ConnectError, match="shard '0'"):
        ShardMap.parse({"0": "h:1"}, "relay={...}")
    with pytest.raises(zvkdiag.ConnectError, match="shard 4 must be 'HOST:PORT'"):
        ShardMap.parse({"4": "wss://r4.example"}, "relay={...}")
    missing = tmp_path / "missing.toml"
    with pytest.raises(zvkdiag.ConnectError, match=str(missing)):
        relay_address(str(missing), "112345678")
    broken = tmp_path / "broken.toml"
    broken.write_text("1 = \n")
    with pytest.raises(zvkdiag.ConnectError, match=f"{broken} is not valid TOML"):
        relay_address(broken, "112345678")
    good = tmp_path / "shards.toml"
    good.write_text('1 = "127.0.0.1:1"\n')
    with pytest.raises(zvkdiag.ConnectError, match=f"shard 5, which the shard map {good}"):
        relay_address(good, "512345678")


def _relay(spawn: type[Proc], shard: int, port: int) -> Proc:
    p = spawn("relay", "--listen", f"127.0.0.1:{port}", "--shard", str(shard))
    p.expect(r"Relay listening on ")
    return p


def test_two_relays_one_restarted_takes_its_customers_back(
    spawn: type[Proc], tmp_path: Path
) -> None:
    ports = {1: _free_port(), 2: _free_port()}
    relays = {shard: _relay(spawn, shard, port) for shard, port in ports.items()}
    shards = {str(s): f"127.0.0.1:{p}" for s, p in ports.items()}
    toml = tmp_path / "shards.toml"
    toml.write_text("".join(f'{s} = "{a}"\n' for s, a in shards.items()))
    agents = [AgentThread(AutoConsent(), relay=shards[str(1 + i % 2)]) for i in range(4)]
    try:
        assert [a.session_id[0] for a in agents] == ["1", "2", "1", "2"]
        used = [a.password for a in agents]
        for agent in agents:  # by ID alone, through the map or the TOML file
            with agent.connect_once_offered(
                toml if agent is agents[0] else shards, REOFFER_TIMEOUT
            ) as s:
                assert s.run(["echo", agent.session_id[0]]).stdout == f"{agent.session_id[0]}\n"
        ids = [a.session_id for a in agents]
        for agent, old in zip(agents, used, strict=True):
            agent.fresh_password(old)  # a new one after every session
        kept = agents[1].connect_once_offered(shards, REOFFER_TIMEOUT)  # a live session on shard 2
        relays[1].proc.kill()
        relays[1].proc.wait()
        relays[1] = _relay(spawn, 1, ports[1])
        for agent in (agents[0], agents[2]):  # shard 1's customers are back, same IDs
            with agent.connect_once_offered(shards, REOFFER_TIMEOUT) as s:
                assert s.run(["true"]).exit_status == 0
        assert [a.session_id for a in agents] == ids
        assert kept.run(["echo", "untouched"]).stdout == "untouched\n"
        kept.close()
    finally:
        for agent in agents:
            agent.close()
