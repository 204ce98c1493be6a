"""The kernel websocket negotiates permessage-deflate under the project's launcher.

Where JupyterLab runs on a server, the kernel→browser websocket is a network
link; Jupyter's message envelope repeats itself from message to message, so
compressing across messages takes most of it off the link.  The server leaves
it off by default; the project's settings turn it on.  Chromium reports the
handshake's ``Sec-WebSocket-Extensions`` answer (DevTools protocol) for the
websocket JupyterLab opens to the notebook's kernel.  ``start_lab`` can turn it
off again (benchmarks compare both): then the answer must not name it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_blocking_cell import _wait_kernel_idle
from test_quickstart import UI_TIMEOUT_MS

from zvkdiag.jupyter.launch import start_lab

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _kernel_handshakes(page: Any) -> list[dict[str, str]]:
    """Response headers (lower-case names) of each kernel websocket the page opens, as they come."""
    cdp = page.context.new_cdp_session(page)
    urls: dict[str, str] = {}
    seen: list[dict[str, str]] = []

    def created(event: dict[str, Any]) -> None:
        urls[event["requestId"]] = event["url"]

    def answered(event: dict[str, Any]) -> None:
        if "/api/kernels/" in urls.get(event["requestId"], ""):
            headers = event["response"]["headers"]
            seen.append({k.lower(): str(v) for k, v in headers.items()})

    cdp.on("Network.webSocketCreated", created)
    cdp.on("Network.webSocketHandshakeResponseReceived", answered)
    cdp.send("Network.enable")
    return seen


@pytest.mark.parametrize("compression", [True, False], ids=["launcher", "turned-off"])
def test_the_kernel_websocket_negotiates_permessage_deflate(
    page: Any, tmp_path: Path, notebook_dir: Path, compression: bool
) -> None:
    env = {
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    handshakes = _kernel_handshakes(page)
    with start_lab(
        notebook_dir,
        env=env,
        log_path=tmp_path / "jupyterlab.log",
        websocket_compression=compression,
    ) as lab:
        page.goto(lab.notebook_url("00_quickstart.ipynb"))
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=UI_TIMEOUT_MS)
        _wait_kernel_idle(page, lab)  # the kernel answered over its websocket
        assert handshakes, "no kernel websocket seen"
        for headers in handshakes:
            negotiated = headers.get("sec-websocket-extensions", "")
            assert ("permessage-deflate" in negotiated) is compression, headers
