"""Fixtures for the proxy tests: a wss relay whose name resolves only inside squid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zvkdiag.relay.server import RelayConfig
from zvkdiag.testing.fakes import RelayThread
from zvkdiag.testing.tls import ThrowawayCA

NAME = "relay.zvk.test"
"""The relay's name: squid's hosts_file maps it to 127.0.0.1; this machine cannot resolve it."""


@pytest.fixture
def wss_relay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RelayThread]:
    (tmp_path / "ca").mkdir()
    ca = ThrowawayCA(tmp_path / "ca", NAME)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))
    for var in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with RelayThread(RelayConfig(backoff_base=0.01), wss=ca.server_context()) as r:
        yield r
