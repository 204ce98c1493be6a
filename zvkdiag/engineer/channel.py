"""One request on the session: its channel, the events widgets show, command results."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncssh

from zvkdiag._errors import (
    ProtocolError,
    SessionClosed,
)
from zvkdiag.wire.messages import read_message

if TYPE_CHECKING:
    pass

__all__ = ["CommandResult", "OpChannel", "RequestEvent", "chained_records", "finish", "summarise"]


@dataclass(frozen=True)
class CommandResult:
    """What a command printed and how it ended; ``stdout``/``stderr`` decoded as UTF-8."""

    argv: tuple[str, ...]
    stdout: str
    stderr: str
    exit_status: int
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


@dataclass(frozen=True)
class RequestEvent:
    """One step of a request as the engineer's widgets show it.

    ``state`` is ``pending`` (asked, waiting for the customer), ``allowed``,
    ``denied`` (declined or unanswered) or ``failed``; ``summary`` says what was asked.
    """

    seq: int
    op: str
    summary: str
    state: str
    message: str = ""
    at: float = field(default_factory=time.time)


def finish(process: asyncssh.SSHClientProcess[bytes]) -> None:
    try:
        if not process.channel.is_closing():
            process.stdin.write_eof()
    except (asyncssh.Error, OSError):
        pass  # already gone: nothing left to finish


def summarise(op: str, params: dict[str, Any]) -> str:
    if op == "run":
        return "command: " + shlex.join(str(a) for a in params.get("argv", []))
    if op == "probe":
        return "probes: " + ", ".join(str(n) for n in params.get("names", []))
    if op in ("file.download", "file.upload"):
        return (
            f"{op}: {params.get('path', '')}{'/' + str(params['name']) if 'name' in params else ''}"
        )
    return op


@dataclass
class OpChannel:
    """One open request: the agent's OK header and the channel's streams."""

    header: dict[str, Any]
    process: asyncssh.SSHClientProcess[bytes]

    @property
    def reader(self) -> asyncssh.SSHReader[bytes]:
        return self.process.stdout

    @property
    def writer(self) -> asyncssh.SSHWriter[bytes]:
        return self.process.stdin

    async def read(self, max_size: int) -> bytes:
        data = await read_message(self.reader, max_size)
        if data is None:
            raise SessionClosed("The customer's side ended the reply early.")
        return data

    def close(self) -> None:
        """Tell the agent we are done with this request (EOF on its input).

        The agent then finishes the op and closes the channel itself.  Closing
        the channel from this side while the agent may still send on it races
        with SSH's channel bookkeeping ("Invalid channel number" ended whole
        sessions now and then), so we never do that.
        """
        finish(self.process)


def chained_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as received, after checking they form one unbroken hash chain."""
    from zvkdiag.consent.audit import check_chain

    try:
        check_chain(records)
    except ValueError as exc:
        raise ProtocolError(f"the customer's audit records are not intact: {exc}") from exc
    return records
