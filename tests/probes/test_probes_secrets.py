"""Secrets planted in a process's command line and in the environment never reach the engineer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from zvkdiag.probes.registry import DEFAULT_REGISTRY
from zvkdiag.probes.runner import run_probes
from zvkdiag.probes.wire import decode_result, encode_result, preview_text

ARGV_SECRET = "SECRET123argv"
ENV_SECRET = "SECRET456env"
PROXY_SECRET = "SECRET789proxy"


@pytest.fixture
def child_with_secret() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", f"--password={ARGV_SECRET}"],
        env={**os.environ, "ZVK_API_TOKEN": ENV_SECRET},
    )
    deadline = time.monotonic() + 10
    while ARGV_SECRET not in " ".join(psutil.Process(child.pid).cmdline()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    yield child
    child.kill()
    child.wait()


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZVK_DB_PASSWORD", ENV_SECRET)
    monkeypatch.setenv("HTTPS_PROXY", f"http://svc:{PROXY_SECRET}@proxy.zvk.local:8080")


@pytest.mark.parametrize("include_args", [False, True])
def test_secrets_never_reach_the_engineer(
    child_with_secret: subprocess.Popen[bytes], secret_env: None, include_args: bool
) -> None:
    params = {"processes": {"include_args": include_args}}
    names = ["processes", "environment", "connections", "autostart"]
    results = run_probes(names, params)
    for name, result in results.items():
        data = encode_result(result)
        for secret in (ARGV_SECRET, ENV_SECRET, PROXY_SECRET):
            assert secret.encode() not in data, name
            assert secret not in preview_text(result, "de")
        decode_result(data, DEFAULT_REGISTRY.get(name))
    child = next(r for r in results["processes"].records if r["pid"] == child_with_secret.pid)
    argv0 = os.path.basename(psutil.Process(child_with_secret.pid).cmdline()[0])
    if include_args:
        assert child["command"] == f"{argv0} -c import time; time.sleep(30) --password=***"
    else:
        assert child["command"] == os.path.basename(psutil.Process(child_with_secret.pid).exe())
    env = {r["name"]: r["value"] for r in results["environment"].records}
    assert env["HTTPS_PROXY"] == "http://***@proxy.zvk.local:8080"
    assert "ZVK_DB_PASSWORD" not in env
