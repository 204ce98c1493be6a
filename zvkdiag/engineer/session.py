"""The engineer's ``Session``: sync methods for notebooks, async twins for asyncio code.

The session owns a thread with its own event loop (``LoopThread``); every
method hands its coroutine to that loop, so a blocking cell or a widget
callback on another thread never stalls the SSH connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import shlex
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import asyncssh
import pandas as pd

from zvkdiag._errors import (
    ConsentDenied,
    ProtocolError,
    SessionClosed,
    SessionNotOpen,
    TamperingDetected,
    ZvkdiagError,
)
from zvkdiag.engineer import registry
from zvkdiag.engineer.dial import Watcher
from zvkdiag.engineer.link import LinkState, LinkWatch, Subscriber
from zvkdiag.engineer.loopthread import LoopStopped, LoopThread
from zvkdiag.resume.transport import EXTRA_KEY, ResumableTransport
from zvkdiag.wire import codes, requests

if TYPE_CHECKING:
    from PIL import Image

    from zvkdiag.cases import Case
    from zvkdiag.engineer.controlling import Control
    from zvkdiag.engineer.probing import ProbeResults
    from zvkdiag.screen import ReceivedFrame
    from zvkdiag.widgets.screen import ScreenView
from zvkdiag.engineer.channel import (
    CommandResult,
    OpChannel,
    RequestEvent,
    chained_records,
    finish,
    summarise,
)

__all__ = ["CommandResult", "OpChannel", "RequestEvent", "Session"]

log = logging.getLogger("zvkdiag.engineer")
MAX_OUTPUT: Final = 16 * 1024 * 1024 + 16
COMMAND_OUTPUT_LIMIT: Final = "16 MiB"  # the agent's cut per stream (builtin_ops.MAX_OUTPUT)


class Session:
    """A connected, customer-approved session.  Create it with ``zvkdiag.connect``."""

    def __init__(
        self,
        conn: asyncssh.SSHClientConnection,
        loop: LoopThread,
        *,
        session_id: str,
        engineer: str,
        info: dict[str, Any],
        watcher: Watcher | None = None,
        link: LinkWatch | None = None,
    ) -> None:
        self._conn = conn
        stream = conn.get_extra_info(EXTRA_KEY)
        self._stream: ResumableTransport | None = (
            stream if isinstance(stream, ResumableTransport) else None
        )
        self._link = link or LinkWatch()
        self._watcher = watcher
        self._lt = loop
        self.session_id = session_id
        self.engineer = engineer
        self.info = info
        self._closed_by_us = False
        self._lost: str | None = None
        self.case: Case | None = None
        self.listeners: list[Callable[[RequestEvent], None]] = []
        self._views: set[Any] = set()
        self.controls: set[Control] = set()  # open remote controls, released on close
        self._seq = itertools.count(1)
        self.on_close: list[Callable[[str], None]] = []
        loop.loop.call_soon_threadsafe(self._watch)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<zvkdiag.Session {codes.format_id(self.session_id)} {state}>"

    # -- state ------------------------------------------------------------------
    def _watch(self) -> None:
        self._watch_task = asyncio.ensure_future(self._wait_lost())

    async def _wait_lost(self) -> None:
        await self._conn.wait_closed()
        registry.unregister(self)
        if not self._closed_by_us:
            self._lost = lost_message(self._watcher.lost if self._watcher else None)
            if self.case is not None:
                self.case.close()  # what was collected (and mirrored) so far stays in it
        self._link.end(self._lost)
        for cb in list(self.on_close):
            cb("engineer" if self._closed_by_us else "peer")

    @property
    def connection(self) -> LinkState:
        """``connected``, ``interrupted`` (since ``.since``, resuming by itself) or ``ended``.

        While interrupted, calls wait rather than fail: SSH runs on a stream that
        resumes for up to ``resume_grace`` seconds, then the session ends.
        """
        return self._link.state

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(state)`` on each change of ``connection``; returns an unsubscribe.

        It runs on the session's loop thread: keep it short and do not block.
        """
        return self._link.subscribe(subscriber)

    @property
    def end_reason(self) -> str | None:
        """Why the other side ended the session (None while open, or when we closed it)."""
        return self._lost

    @property
    def closed(self) -> bool:
        return self._closed_by_us or self._lost is not None

    def _check(self) -> None:
        if self._closed_by_us:
            raise SessionNotOpen("This session was closed; connect again to continue.")
        if self._lost is not None:
            lost = self._watcher.lost if self._watcher else None
            if isinstance(lost, asyncssh.MACError):
                raise TamperingDetected(
                    "The encrypted stream was altered on the way; the session was ended."
                )
            raise SessionClosed(self._lost)

    # -- requests ---------------------------------------------------------------
    async def open_op(self, op: str, **params: Any) -> OpChannel:
        """Open one request channel and return it once the agent answered OK."""
        return await self._open_op(op, params)

    async def open_quiet_op(self, op: str) -> OpChannel:
        """Open a request channel that widgets do not list (the RTT echo of a screen view)."""
        self._check()
        header, process = await self._ask(requests.format_request(op, {}))
        requests.raise_for_header(header)
        return OpChannel(header, process)

    async def _open_op(self, op: str, params: dict[str, Any]) -> OpChannel:
        self._check()
        command = requests.format_request(op, params)
        seq, summary = next(self._seq), summarise(op, params)
        self._emit(RequestEvent(seq, op, summary, "pending"))
        try:
            header, process = await self._ask(command)
            requests.raise_for_header(header)
        except ConsentDenied as exc:
            self._emit(RequestEvent(seq, op, summary, "denied", str(exc)))
            raise
        except ZvkdiagError as exc:
            self._emit(RequestEvent(seq, op, summary, "failed", str(exc)))
            raise
        self._emit(RequestEvent(seq, op, summary, "allowed"))
        return OpChannel(header, process)

    async def _ask(self, command: str) -> tuple[dict[str, Any], asyncssh.SSHClientProcess[bytes]]:
        try:
            process = await self._conn.create_process(command, encoding=None)
            line = await process.stdout.readline()
        except (asyncssh.Error, OSError) as exc:
            self._check()
            raise SessionClosed(f"The session broke during the request: {exc}") from exc
        if not line:
            self._check()
            await asyncio.sleep(0.05)  # the connection may be going down right now
            self._check()
        try:
            header = requests.parse_header(line)
            if not header["ok"]:
                finish(process)
        except ZvkdiagError:
            finish(process)
            raise
        return header, process

    def _emit(self, event: RequestEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a broken widget must not break the session
                log.exception("request listener failed")

    async def _guarded(self, coro: Any) -> Any:
        try:
            return await coro
        except (asyncssh.Error, OSError, asyncio.IncompleteReadError) as exc:
            self._check()
            await asyncio.sleep(0.05)
            self._check()
            raise SessionClosed(f"The session broke: {exc}") from exc

    async def arun(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        result = await self._run(argv, timeout)
        _warn_if_truncated(result)
        return result

    async def _run(self, argv: Sequence[str], timeout: float | None) -> CommandResult:
        argv = [str(a) for a in argv]
        if not argv:
            raise ValueError("argv must name a command")
        chan = await self.open_op("run", argv=argv, timeout=timeout)
        out = await self._guarded(chan.read(MAX_OUTPUT))
        err = await self._guarded(chan.read(MAX_OUTPUT))
        chan.close()
        return CommandResult(
            tuple(argv),
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
            int(chan.header.get("exit_status", -1)),
            bool(chan.header.get("truncated")),
        )

    async def aprobe(self, name: str, **params: Any) -> pd.DataFrame:
        from zvkdiag.engineer.probing import probe_one

        df = await probe_one(self, name, params)
        self._to_case(name, df)
        await self._mirror_audit()
        return df

    async def acollect(
        self, names: Sequence[str], params: dict[str, dict[str, Any]] | None = None
    ) -> ProbeResults:
        from zvkdiag.engineer.probing import collect

        results = await collect(self, list(names), params)
        for name, df in results.items():
            self._to_case(name, df)
        await self._mirror_audit()
        return results

    def _to_case(self, name: str, df: pd.DataFrame) -> None:
        if self.case is None:
            return
        if name == "os" and "hostname" in df:
            self.case.learn(hosts=[h for h in df["hostname"].dropna().astype(str)])
        self.case.add_table(name, df)

    async def amonitors(self) -> list[dict[str, Any]]:
        from zvkdiag.engineer.viewing import monitors

        return await monitors(self)

    async def ascreenshot(self, monitor: int = 0) -> Image.Image:
        from zvkdiag.engineer.viewing import screenshot

        return await screenshot(self, monitor)

    async def frames(self, monitor: int = 0) -> AsyncIterator[ReceivedFrame]:
        """Screen frames as the customer's screen changes (headless use, benchmarks).

        Works from any event loop: each frame is fetched on the session's own loop.
        """
        from zvkdiag.engineer.viewing import frames

        stream = frames(self, monitor)
        running: list[asyncio.Task[Any]] = []

        async def step() -> ReceivedFrame:
            task = asyncio.current_task()
            assert task is not None
            running[:] = [task]
            return await anext(stream)

        async def stop() -> None:
            # a step cancelled from the caller's loop may still be unwinding here
            for task in running:
                if not task.done():
                    task.cancel()
                    await asyncio.wait([task])
            await stream.aclose()  # type: ignore[attr-defined]

        try:
            while True:
                try:
                    yield await self._lt.acall(step())
                except (StopAsyncIteration, LoopStopped):
                    return
        finally:
            # a session closed meanwhile took the stream down with its loop
            with contextlib.suppress(LoopStopped):
                await self._lt.acall(stop())

    async def aaudit(self) -> list[dict[str, Any]]:
        chan = await self.open_op("audit")
        data = await self._guarded(chan.read(MAX_OUTPUT))
        chan.close()
        records = json.loads(data)
        if not isinstance(records, list):
            raise ProtocolError("the audit records are not a list")
        return records

    async def asay(self, text: str) -> None:
        chan = await self.open_op("say", text=text)
        chan.close()

    def sftp(self) -> Any:
        """An SFTP client on this session (the agent refuses it unless a file was granted)."""
        self._check()
        return self._conn.start_sftp_client()

    async def adownload(
        self,
        remote: str,
        local_dir: str | os.PathLike[str] | None = None,
        *,
        progress: bool = False,
    ) -> Path:
        from zvkdiag.engineer.files import download

        if local_dir is None:
            local_dir = self.case.files_dir if self.case is not None else "."
        path = await download(self, remote, local_dir, progress=progress)
        await self._mirror_audit()
        return path

    async def aupload(
        self, local: str | os.PathLike[str], remote_dir: str, *, progress: bool = False
    ) -> str:
        from zvkdiag.engineer.files import upload

        return await upload(self, local, remote_dir, progress=progress)

    async def _mirror_audit(self) -> None:
        """Copy the customer's audit records of this session into the case (idempotent)."""
        if self.case is None or self.closed:
            return
        try:
            self.case.add_audit(chained_records(await self.aaudit()))
        except ZvkdiagError as exc:
            log.warning("audit records not mirrored: %s", exc)

    async def _finish_case(self) -> None:
        """Mirror this session's audit records into the case, then close it."""
        if self.case is None or self.closed:
            return
        await self._mirror_audit()
        self.case.close()

    async def aclose(self) -> None:
        for control in list(self.controls):
            await control.arelease()
        await self._finish_case()
        already = self.closed
        self._closed_by_us = True
        registry.unregister(self)
        if not already:
            self._conn.close()
            try:
                async with asyncio.timeout(5):
                    await self._conn.wait_closed()
            except TimeoutError:
                pass
        if self._stream is not None:  # its carrier lingers for the customer's goodbye
            await self._stream.wait_closed()

    # -- sync twins ---------------------------------------------------------------
    def _sync(self, coro: Any, timeout: float | None = None) -> Any:
        if self._lt.loop.is_closed():
            coro.close()
            self._check()
            raise SessionNotOpen("This session was closed; connect again to continue.")
        return self._lt.call(coro, timeout)

    def run(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        """Run a command on the customer's PC after they allowed it (shown verbatim).

        ``argv`` is a list; no shell is involved.  Returns stdout, stderr, exit status.
        Each of stdout and stderr is cut after 16 MiB: ``result.truncated`` is then
        True and a ``UserWarning`` names the limit.  Raises ``CommandNotFound`` when
        the customer's PC has no such program (where a shell would give status 127).
        """
        result: CommandResult = self._sync(self._run(argv, timeout))
        _warn_if_truncated(result, stacklevel=3)  # in the caller's thread, at the caller's line
        return result

    def monitors(self) -> list[dict[str, Any]]:
        """The customer's monitors (index 0 spans all of them)."""
        return self._sync(self.amonitors())  # type: ignore[no-any-return]

    def screenshot(self, monitor: int = 0) -> Image.Image:
        """One pixel-exact picture of the customer's screen (asks for ``screen.view`` once)."""
        return self._sync(self.ascreenshot(monitor))  # type: ignore[no-any-return]

    def screen(self, monitor: int = 0) -> ScreenView:
        """The live screen as a notebook widget: fps, latency, bandwidth, pause, snapshot.

        The customer is asked once to allow ``screen.view``; "snapshot" stores a
        lossless PNG in the session's case when one is attached.  "Request
        control" asks for ``screen.control``; then mouse and keyboard in the
        focused canvas act on the customer's screen until "give back".
        """
        from zvkdiag.engineer.viewing import open_view
        from zvkdiag.engineer.widget_control import ControlLink
        from zvkdiag.widgets.screen import ScreenView

        self._check()
        case = self.case

        def snapshot(image: Image.Image) -> None:
            if case is not None:
                case.add_screenshot(image)

        view = ScreenView(
            on_snapshot=snapshot if case is not None else None,
            title=f"Monitor {monitor}",
            control=ControlLink(self, monitor),
        )
        if self.connection.phase != "connected":
            view.show_link(self.connection)
        self.subscribe(view.show_link)
        self._views.add(self._lt.submit(open_view(self, monitor, view)))
        return view

    def control(self, monitor: int = 0) -> Control:
        """Mouse and keyboard on the customer's screen, after they allowed ``screen.control``.

        Use ``with s.control() as c: c.click(640, 400); c.type_text("…"); c.key("Return")``;
        leaving the block lets go of every key and button.  Raises ``ConsentDenied``
        or ``ControlUnavailable`` (for example on a Wayland desktop).
        """
        from zvkdiag.engineer.controlling import open_control

        return self._sync(open_control(self, monitor))  # type: ignore[no-any-return]

    def point(self, x: int | None = None, y: int | None = None, *, monitor: int = 0) -> None:
        """Show a large marker at (x, y) on the customer's screen; ``point()`` hides it.

        It only draws: nothing is clicked.  Asks for ``screen.point`` once.
        """
        if (x is None) != (y is None):
            raise ValueError("point(x, y) shows the marker, point() hides it")
        at = None if x is None else [int(x), int(y)]  # type: ignore[arg-type]
        self._sync(self._op_done("screen.point", monitor=monitor, at=at))

    def clipboard_send(self, text: str) -> None:
        """Put ``text`` on the customer's clipboard; they see it first and must allow it."""
        from zvkdiag.control.events import MAX_CLIPBOARD

        if not isinstance(text, str) or len(text.encode()) > MAX_CLIPBOARD:
            raise ValueError(
                f"clipboard text is a str of at most 64 KiB ({MAX_CLIPBOARD} bytes of UTF-8)"
            )
        self._sync(self._op_done("clipboard.send", text=text))

    def clipboard_get(self) -> str:
        """The text on the customer's clipboard, after they saw it and allowed it to leave."""
        return self._sync(self._clipboard_get())  # type: ignore[no-any-return]

    async def _op_done(self, op: str, **params: Any) -> None:
        chan = await self.open_op(op, **params)
        chan.close()

    async def _clipboard_get(self) -> str:
        chan = await self.open_op("clipboard.get")
        data = await self._guarded(chan.read(MAX_OUTPUT))
        chan.close()
        return bytes(data).decode("utf-8", "replace")

    def probes(self) -> pd.DataFrame:
        """The probe catalog: name, titles, descriptions, platforms, sensitivity, columns."""
        from zvkdiag.engineer.probing import catalog

        return catalog(str(self.info.get("platform", "")) or None)

    def probe(self, name: str, **params: Any) -> pd.DataFrame:
        """Run one probe after the customer allowed it; a DataFrame with the declared dtypes.

        ``df.attrs["warnings"]`` lists what could not be collected.  Raises
        ``UnknownProbe`` (with close names) or ``ConsentDenied``.
        """
        return self._sync(self.aprobe(name, **params))  # type: ignore[no-any-return]

    def collect(
        self, names: Sequence[str], params: dict[str, dict[str, Any]] | None = None
    ) -> ProbeResults:
        """Several probes behind one consent question; ``.refused`` names those not sent."""
        return self._sync(self.acollect(names, params))  # type: ignore[no-any-return]

    def audit(self) -> list[dict[str, Any]]:
        """The customer's audit records of this session (requests, decisions, messages, bytes)."""
        return self._sync(self.aaudit())  # type: ignore[no-any-return]

    def say(self, text: str) -> None:
        """Show a message in the customer's window (and their audit log)."""
        self._sync(self.asay(text))

    def download(
        self, remote: str, local_dir: str | os.PathLike[str] | None = None, *, progress: bool = True
    ) -> Path:
        """Copy one file from the customer's PC into ``local_dir`` (keeping its name).

        The customer sees the path and size and must allow it; the file is
        checked by SHA-256 and renamed into place only when complete.
        """
        return self._sync(self.adownload(remote, local_dir, progress=progress))  # type: ignore[no-any-return]

    def upload(
        self, local: str | os.PathLike[str], remote_dir: str, *, progress: bool = True
    ) -> str:
        """Copy one file to the customer's PC (into ``remote_dir``); returns its final path."""
        return self._sync(self.aupload(local, remote_dir, progress=progress))  # type: ignore[no-any-return]

    def close(self, *, timeout: float | None = None) -> None:
        """End the session; the customer's indicator disappears, their password changes."""
        registry.unregister(self)
        if not self._lt.loop.is_closed():
            try:
                self._lt.call(self.aclose(), timeout)
            finally:
                self._lt.stop()

    def call(self, coro: Any, timeout: float | None = None) -> Any:
        """Run one of this session's coroutines from synchronous code."""
        return self._sync(coro, timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._lt.acall(self.aclose())
        self._lt.stop()


_END_REASON_PREFIX: Final = "zvkdiag-end:"  # the agent's SSH disconnect text (agent.session)
_END_MESSAGES: Final = {
    "idle": (
        "The customer's program ended the session after its idle time: nothing was requested"
        ' and the screen was not viewed, and nobody answered "Wird die Fernwartung noch'
        ' benötigt?" (idle timeout).'
    ),
    "max-length": (
        "The customer's program ended the session: it reached the maximum session length set there."
    ),
    "customer": "The customer ended the session.",
}


def lost_message(exc: Exception | None) -> str:
    """The engineer's words for why the connection ended, from the agent's disconnect text."""
    reason = getattr(exc, "reason", "")
    if isinstance(reason, str) and reason.startswith(_END_REASON_PREFIX):
        known = _END_MESSAGES.get(reason.removeprefix(_END_REASON_PREFIX))
        if known:
            return known
    return "The customer ended the session, or the connection was lost."


def _warn_if_truncated(result: CommandResult, stacklevel: int = 3) -> None:
    if result.truncated:
        warnings.warn(
            f"The output of {shlex.join(result.argv)} was longer than {COMMAND_OUTPUT_LIMIT};"
            f" only the first {COMMAND_OUTPUT_LIMIT} of stdout and of stderr arrived"
            " (result.truncated is True).",
            UserWarning,
            stacklevel=stacklevel,
        )
