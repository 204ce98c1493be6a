"""Comm messages to the browser with Jupyter's envelope cut to what is read.

ipykernel gives every comm message the header of the last ``execute_request``
as its parent (~240 bytes), from whichever thread it is sent; a screen frame
of a typed letter carries ~150 bytes of pixels.  Nobody reads that parent for
a widget message: JupyterLab routes iopub ``comm_msg`` by ``comm_id`` (in
``KernelConnection._handleMessage`` a parent without a pending future is
passed over), and Jupyter Server forwards the message parts as they are
(websocket protocol v1).  So these messages go out with an empty parent
header, a header of just the fields JupyterLab validates as strings
(``msg_id`` short, ``msg_type``, ``username``, ``session`` empty,
``version``), no metadata and compact JSON: ~250 bytes a frame less.
ipywidgets' ``{"method": "custom", "content": ...}`` stays: the widget
model in the page dispatches on it.

Where there is no kernel (tests, a plain Python session) ``lean_send``
returns False and the caller sends the ordinary way.
"""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

from jupyter_client._version import protocol_version

__all__ = ["lean_send"]

_PREFIX = uuid.uuid4().hex[:8]  # with the counter: unique among this kernel's messages
_COUNT = itertools.count()


def lean_send(widget: Any, content: dict[str, Any], buffers: list[bytes]) -> bool:
    """Send ``content`` as a custom widget message; False where this kernel cannot."""
    comm = getattr(widget, "comm", None)
    kernel = getattr(comm, "kernel", None)
    session = getattr(kernel, "session", None)
    socket = getattr(kernel, "iopub_socket", None)
    topic = getattr(comm, "topic", None)
    if session is None or socket is None or topic is None or comm is None:
        return False
    data = {"comm_id": comm.comm_id, "data": {"method": "custom", "content": content}}
    header = {
        "msg_id": f"{_PREFIX}_{next(_COUNT)}",
        "msg_type": "comm_msg",
        "username": "",
        "session": "",
        "version": protocol_version,
    }
    packed = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    session.send(socket, "comm_msg", packed, parent={}, ident=topic, buffers=buffers, header=header)
    return True
