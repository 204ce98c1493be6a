"""Browser messages to a screen view skip the kernel's busy status, and only those."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

SETUP = """
import ipywidgets
from zvkdiag.widgets.screen import ScreenView
view = ScreenView()
other = ipywidgets.IntSlider()
print(view.comm.comm_id, other.comm.comm_id)
"""


@pytest.fixture
def kernel() -> Iterator[Any]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    try:
        yield client
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def _run(client: Any, code: str) -> str:
    out: list[str] = []
    client.execute_interactive(code, output_hook=lambda m: out.append(m["content"].get("text", "")))
    return "".join(out)


def _statuses(client: Any, comm_id: str, data: dict[str, Any]) -> list[str]:
    msg = client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
    client.shell_channel.send(msg)
    seen: list[str] = []
    while "idle" not in seen:
        reply = client.get_iopub_msg(timeout=10)
        ours = reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]
        if ours and reply["msg_type"] == "status":
            seen.append(reply["content"]["execution_state"])
    return seen


def test_screen_view_messages_skip_busy(kernel: Any) -> None:
    view_id, other_id = _run(kernel, SETUP).split()
    ack = {"method": "custom", "content": {"type": "pause", "paused": False}}
    assert _statuses(kernel, view_id, ack) == ["idle"]  # idle still completes the message
    assert _statuses(kernel, other_id, {"method": "update", "state": {"value": 3}}) == [
        "busy",
        "idle",
    ]
