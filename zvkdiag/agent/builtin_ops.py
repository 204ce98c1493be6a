"""The foundation's ops: ``run`` (a command, shown verbatim) and ``say`` (a message)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Final

from zvkdiag._errors import CommandNotFound, CommandTimeout, ProtocolError, ZvkdiagError
from zvkdiag._proctree import kill_tree
from zvkdiag.agent.ops import OpContext, OpRegistry
from zvkdiag.consent.model import EngineerMessage, Scope
from zvkdiag.wire.messages import write_message

__all__ = ["register_all"]

MAX_ARGV: Final = 256
MAX_OUTPUT: Final = 16 * 1024 * 1024
DEFAULT_COMMAND_TIMEOUT: Final = 120.0
MAX_COMMAND_TIMEOUT: Final = 3600.0
MAX_SAY: Final = 2000
MAX_PING: Final = 64  # bytes echoed at a time


def _argv(ctx: OpContext) -> list[str]:
    argv: list[str] = ctx.param("argv", list)
    if not argv or len(argv) > MAX_ARGV or not all(isinstance(a, str) for a in argv):
        raise ProtocolError("a command is a non-empty list of strings")
    if any("\x00" in a for a in argv):
        raise ProtocolError("a command argument contains a NUL byte")
    return argv


def _keep(data: bytearray, chunk: bytes) -> bool:
    """Append what fits under ``MAX_OUTPUT``; True when something was cut."""
    room = MAX_OUTPUT - len(data)
    data += chunk[: max(room, 0)]
    return len(chunk) > room


async def _read_bounded(stream: asyncio.StreamReader | None) -> tuple[bytes, bool]:
    data = bytearray()
    truncated = False
    assert stream is not None
    while chunk := await stream.read(65536):
        truncated |= _keep(data, chunk)
    return bytes(data), truncated


def _not_started(exc: OSError, argv: list[str]) -> ZvkdiagError:
    if isinstance(exc, FileNotFoundError | PermissionError | NotADirectoryError):
        return CommandNotFound(
            f"The customer's PC has no program {argv[0]!r} that could be started"
            f" ({exc.strerror or exc})."
        )
    return ZvkdiagError(f"The command could not be started on the customer's PC: {exc}")


def _timed_out(timeout: float) -> CommandTimeout:
    return CommandTimeout(f"The command ran longer than {timeout:g} s and was stopped.")


async def _run_on_loop(argv: list[str], timeout: float) -> tuple[int, bytes, bool, bytes, bool]:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise _not_started(exc, argv) from exc
    try:
        async with asyncio.timeout(timeout):
            (out, out_cut), (err, err_cut) = await asyncio.gather(
                _read_bounded(proc.stdout), _read_bounded(proc.stderr)
            )
            status = await proc.wait()
    except TimeoutError:
        raise _timed_out(timeout) from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the whole group it started
            await proc.wait()
    return status, out, out_cut, err, err_cut


def _drain(stream: IO[bytes]) -> tuple[bytes, bool]:
    data = bytearray()
    truncated = False
    while chunk := stream.read(65536):
        truncated |= _keep(data, chunk)
    return bytes(data), truncated


def _start(argv: list[str]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise _not_started(exc, argv) from exc


def _finish(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, bytes, bool, bytes, bool]:
    with proc, ThreadPoolExecutor(2, thread_name_prefix="zvkdiag-command") as pool:
        assert proc.stdout is not None and proc.stderr is not None
        out, err = pool.submit(_drain, proc.stdout), pool.submit(_drain, proc.stderr)
        try:
            status = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait()
            raise _timed_out(timeout) from None
        return status, *out.result(), *err.result()


def run_in_thread(argv: list[str], timeout: float) -> tuple[int, bytes, bool, bytes, bool]:
    """The command with plain threads: on Windows the customer program's selector loop
    cannot start subprocesses (and there are no process groups to kill).

    Returns exit status, stdout, whether it was cut, stderr, whether it was cut.
    """
    return _finish(_start(argv), timeout)


async def run_threaded(argv: list[str], timeout: float) -> tuple[int, bytes, bool, bytes, bool]:
    """``run_in_thread`` for the event loop: when the op is cancelled (the engineer gives
    up, the session or the program ends) the command and its children are killed at
    once rather than left to run to their timeout."""
    proc = _start(argv)
    try:
        return await asyncio.to_thread(_finish, proc, timeout)
    finally:
        if proc.poll() is None:
            kill_tree(proc.pid)


async def op_run(ctx: OpContext) -> int:
    argv = _argv(ctx)
    timeout = float(ctx.params.get("timeout") or DEFAULT_COMMAND_TIMEOUT)
    timeout = min(max(timeout, 0.1), MAX_COMMAND_TIMEOUT)
    await ctx.require(
        ctx.request(Scope.COMMAND, argv=argv), scope_label=f"command: {shlex.join(argv)}"
    )
    if sys.platform == "win32":
        ran = await run_threaded(argv, timeout)
    else:
        ran = await _run_on_loop(argv, timeout)
    status, out, out_cut, err, err_cut = ran
    ctx.audit("command.result", argv=argv, exit_status=status, bytes_sent=len(out) + len(err))
    await ctx.accept(exit_status=status, truncated=out_cut or err_cut)
    await write_message(ctx.stdout, out)
    await write_message(ctx.stdout, err)
    return 0


async def op_say(ctx: OpContext) -> int:
    text = ctx.param("text", str)
    if not text.strip() or len(text) > MAX_SAY:
        raise ProtocolError(f"a message has 1 to {MAX_SAY} characters")
    if ctx.session is not None:
        ctx.session.show(EngineerMessage(text))
    ctx.audit("message", text=text)
    await ctx.accept()
    return 0


async def op_audit(ctx: OpContext) -> int:
    """The customer's audit records of this session, for the engineer's case (no consent:
    the engineer sees only what was asked and answered in this very session)."""
    records = ctx.session.records() if ctx.session is not None else []
    await ctx.accept(count=len(records))
    await write_message(ctx.stdout, json.dumps(records).encode())
    return 0


async def op_ping(ctx: OpContext) -> int:
    """Echo what arrives, so the engineer can time a round trip on their own clock.

    It reads and returns only the engineer's own bytes: nothing of the customer's
    PC is involved, so it needs no consent (and is not audited per echo).
    """
    await ctx.accept()
    while data := await ctx.stdin.read(MAX_PING):
        ctx.stdout.write(data)
        await ctx.stdout.drain()
    return 0


def register_all(registry: OpRegistry) -> None:
    registry.register("run", op_run)
    registry.register("say", op_say)
    registry.register("audit", op_audit)
    registry.register("ping", op_ping)
