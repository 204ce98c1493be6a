"""In a real kernel: browser messages to a screen view skip the busy status, and only those;
frame messages to the browser go with an empty parent and a short header."""

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


LEAN_SETUP = """
from zvkdiag.widgets.screen import ScreenView
view = ScreenView()
print(view.comm.comm_id)
"""
SEND = "view._to_browser({'type': 'status', 'text': 'grüß', 'n': 2.5}, [b'pixels'])"


def _comm_msgs(client: Any, comm_id: str) -> list[dict[str, Any]]:
    got = []
    while (msg := client.get_iopub_msg(timeout=10))["msg_type"] != "status" or (
        msg["content"]["execution_state"] != "idle"
    ):
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == comm_id:
            got.append(msg)
    return got


def test_a_frame_message_carries_no_parent_and_only_the_fields_jupyterlab_reads(
    kernel: Any,
) -> None:
    comm_id = _run(kernel, LEAN_SETUP).strip()
    kernel.execute(SEND)
    (msg,) = _comm_msgs(kernel, comm_id)
    assert msg["parent_header"] == {} and msg["metadata"] == {}
    content = {"type": "status", "text": "grüß", "n": 2.5}
    assert msg["content"] == {"comm_id": comm_id, "data": {"method": "custom", "content": content}}
    assert [bytes(b) for b in msg["buffers"]] == [b"pixels"]
    header = msg["header"]
    for field in ("msg_id", "msg_type", "username", "session", "version"):
        assert isinstance(header[field], str)  # what JupyterLab's validateMessage checks
    assert header["msg_type"] == "comm_msg" and header["session"] == ""
    assert len(header["msg_id"]) < 20


def test_the_former_way_keeps_ipywidgets_envelope(kernel: Any) -> None:
    former = LEAN_SETUP.replace("view = ", "ScreenView.hop_lean = False\nview = ")
    comm_id = _run(kernel, former).strip()
    kernel.execute(SEND)
    (msg,) = _comm_msgs(kernel, comm_id)
    assert msg["parent_header"]["msg_type"] == "execute_request"
