"""Shared fixtures: real relay and agent processes and threads on loopback port 0."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zvkdiag.relay.server import RelayConfig
from zvkdiag.testing.fakes import AgentThread, AutoConsent, RelayThread
from zvkdiag.testing.procs import Proc


@pytest.fixture(autouse=True)
def _private_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit logs and other per-user data go to a temporary folder, never to ~."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))


@pytest.fixture
def relay() -> Iterator[RelayThread]:
    # failed tries from 127.0.0.1 are slowed 100x less than in production, to keep tests quick;
    # tests/foundation/test_backoff.py checks the real schedule
    with RelayThread(RelayConfig(backoff_base=0.01)) as r:
        yield r


@pytest.fixture
def consent() -> AutoConsent:
    return AutoConsent()


@pytest.fixture
def agent(relay: RelayThread, consent: AutoConsent) -> Iterator[AgentThread]:
    with AgentThread(consent, relay=relay.address) as a:
        yield a


@pytest.fixture
def spawn() -> Iterator[type[Proc]]:
    procs: list[Proc] = []

    class Spawned(Proc):
        def __init__(
            self, *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
        ) -> None:
            super().__init__(*args, env=env, prefix=prefix)
            procs.append(self)

    yield Spawned
    for p in procs:
        p.stop()


@pytest.fixture
def relay_process(spawn: type[Proc]) -> str:
    p = spawn("relay", "--listen", "127.0.0.1:0")
    return p.expect(r"Relay listening on (\S+)").group(1)


ROOT = Path(__file__).resolve().parent.parent
