"""The consent feed: every request of a session with the customer's answer, live.

The session calls its listeners on its own loop thread with a
``RequestEvent`` for each step (pending, then allowed/denied/failed).  The
feed turns events into rows with a pure function (``merge``) and replaces
its ``rows`` trait; the browser redraws the table.  Rows hold what the
engineer asked (a command line, probe names, a file path) and the answer:
never file contents or screen data.
"""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypedDict

import anywidget
import traitlets

if TYPE_CHECKING:
    from zvkdiag.engineer.session import RequestEvent, Session

__all__ = ["ConsentFeed", "FeedRow", "merge", "row_of"]

MAX_ROWS: Final = 500  # older rows leave the table; the audit log keeps everything
STATES: Final = frozenset({"pending", "allowed", "denied", "failed"})


class FeedRow(TypedDict):
    seq: int
    op: str
    summary: str
    state: str
    message: str
    time: str


def row_of(event: RequestEvent) -> FeedRow:
    """One table row for ``event`` (local wall-clock time, to the second)."""
    state = event.state if event.state in STATES else "failed"
    return FeedRow(
        seq=event.seq,
        op=event.op,
        summary=event.summary,
        state=state,
        message=event.message,
        time=time.strftime("%H:%M:%S", time.localtime(event.at)),
    )


def merge(rows: Sequence[FeedRow], event: RequestEvent) -> list[FeedRow]:
    """``rows`` with ``event`` applied: a later step of a request replaces its row."""
    new = row_of(event)
    out = [new if r["seq"] == event.seq else r for r in rows]
    if all(r["seq"] != event.seq for r in rows):
        out.append(new)
    return out[-MAX_ROWS:]


class ConsentFeed(anywidget.AnyWidget):
    """A live table of a session's requests and the customer's answers.

    Parameters
    ----------
    session
        Follow this session from now on; or call :meth:`attach` later.
    initial
        Events that happened before (``ConnectPanel`` passes the approved
        session request, which precedes any listener).
    """

    _esm = pathlib.Path(__file__).parent / "static" / "feed.js"
    _css = pathlib.Path(__file__).parent / "static" / "connect.css"
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(
        self, session: Session | None = None, *, initial: Iterable[RequestEvent] = ()
    ) -> None:
        super().__init__()
        self._lock = threading.Lock()
        for event in initial:
            self.add(event)
        if session is not None:
            self.attach(session)

    def attach(self, session: Session) -> None:
        """Show ``session``'s requests from now on."""
        session.listeners.append(self.add)

    def add(self, event: RequestEvent) -> None:
        """Apply one event (thread-safe: the session calls this on its loop thread)."""
        with self._lock:
            rows: list[Any] = merge(self.table, event)
            self.rows = rows

    @property
    def table(self) -> list[FeedRow]:
        """The rows as shown, oldest first."""
        rows: list[Any] = list(self.rows)
        return rows

    def __repr__(self) -> str:
        pending = sum(r["state"] == "pending" for r in self.table)
        return f"<ConsentFeed {len(self.table)} requests, {pending} pending>"
