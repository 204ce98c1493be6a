"""Browser messages to our widgets do not flip the kernel to "busy".

ipykernel publishes a busy and an idle status for every message the browser
sends, comm messages included.  JupyterLab reacts to each status *change*
with a round of UI updates (execution indicator, tab and favicon state) that
costs ~12 ms of the page's main thread here, and a screen view under remote
control sends a message for every key, button and acknowledged frame: the
updates queued behind them delayed the frames the engineer waits for (key to
drawn frame 35 ms; 17 ms without; docs/benchmarks.md).

So for a comm message addressed to one of our widgets the kernel skips the
*busy* status only.  The *idle* status still goes out with the message as its
parent: JupyterLab completes (and disposes) the message's future on it, and
an idle while already idle is no change, so nothing is redrawn.  Messages to
any other widget, and every other request, keep both statuses.

This wraps ipykernel's private ``Kernel._publish_status`` once per kernel; a
kernel without it (another version or another kernel) keeps its statuses and
only the speed-up is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["quiet_busy_status"]

_QUIET: set[str] = set()
_LOCK = threading.Lock()
_PATCHED: set[int] = set()


def _is_quiet(parent: Any) -> bool:
    if not isinstance(parent, dict):
        return False
    header = parent.get("header") or {}
    if header.get("msg_type") != "comm_msg":
        return False
    content = parent.get("content") or {}
    return content.get("comm_id") in _QUIET


def _wrap(kernel: Any) -> None:
    original: Callable[..., Any] = kernel._publish_status

    def publish_status(status: str, channel: str, parent: Any = None) -> Any:
        if status == "busy" and _is_quiet(parent or kernel.get_parent(channel)):
            return None
        return original(status, channel, parent)

    kernel._publish_status = publish_status


def quiet_busy_status(widget: Any) -> bool:
    """Skip the busy status for browser messages to ``widget``; False where not possible."""
    comm = getattr(widget, "comm", None)
    comm_id = getattr(comm, "comm_id", None)
    kernel = getattr(comm, "kernel", None)
    if comm_id is None or kernel is None or not hasattr(kernel, "_publish_status"):
        return False
    if not hasattr(kernel, "get_parent"):
        return False
    with _LOCK:
        if id(kernel) not in _PATCHED:
            _wrap(kernel)
            _PATCHED.add(id(kernel))
        _QUIET.add(comm_id)
    return True
