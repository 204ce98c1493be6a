"""Let browser messages for our widgets run while a cell blocks the kernel's main thread.

JupyterLab 4.4+ sends widget messages to a kernel subshell, but ipykernel 7.4
routes a comm's incoming messages to the subshell its *last outgoing* message
came from, which for a widget created in a cell is the main shell; a cell
blocking in ``panel.wait()`` or a long probe then holds back every click and
every screen-view ack until it ends.  Our widgets' handlers are thread-safe
(they only hand work to the session's own loop), so we keep the subshell the
frontend chose.
"""

from __future__ import annotations

from typing import Any

__all__ = ["answer_on_frontend_subshell"]


def answer_on_frontend_subshell(widget: Any) -> None:
    """Make ``widget``'s comm keep the frontend's subshell (no-op where unsupported)."""
    comm = getattr(widget, "comm", None)
    if comm is None or not hasattr(comm, "_reply_subshell_for"):
        return

    def keep(_data: object, frontend_subshell: str | None) -> str | None:
        return frontend_subshell

    comm._reply_subshell_for = keep
