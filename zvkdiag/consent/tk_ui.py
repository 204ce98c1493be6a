"""The customer's QuickSupport window in Tk: the ConsentUI the agent talks to.

Threads: Tk lives in the main thread (``run``); the agent's asyncio loop runs
in another.  Nothing from the agent thread touches a widget: ``ask`` and
``show`` put small jobs on a thread-safe queue that the Tk thread drains
every ``POLL_MS``; answers travel back with ``loop.call_soon_threadsafe``.
``close`` may be called from any thread (or a signal handler).

::

    agent loop thread                     Tk main thread
    ask(request) ── job ──▶ inbox ──poll──▶ ConsentQueue ─▶ ConsentDialog
         ▲                                        │ click / timeout
         └──── call_soon_threadsafe(set_result) ◀─┘
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import signal
import threading
import tkinter as tk
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import FrameType

from zvkdiag._errors import ZvkdiagError
from zvkdiag.consent import tk_theme as theme
from zvkdiag.consent.describe import describe
from zvkdiag.consent.messages import network_text, text
from zvkdiag.consent.model import (
    DEFAULT_TIMEOUT,
    AgentControl,
    AgentEvent,
    CodeIssued,
    ConnectionInterrupted,
    ConnectionRestored,
    ConsentRequest,
    ControlActive,
    Decision,
    EngineerMessage,
    FailedTry,
    NetworkProblem,
    PointerShown,
    RouteChosen,
    Scope,
    ScreenShared,
    SessionEnded,
    SessionExpiring,
    SessionStarted,
)
from zvkdiag.consent.tk_dialog import ConsentDialog, Indicator
from zvkdiag.consent.tk_main import AuditViewer, MainWindow
from zvkdiag.consent.tk_overlay import ControlFrame, PointerMarker
from zvkdiag.consent.tk_queue import ConsentQueue, Ticket
from zvkdiag.wire.codes import format_id, format_password

__all__ = ["TkUI"]

log = logging.getLogger(__name__)

_Job = Callable[[], None]


class TkUI:
    """Main window, consent dialogs and the session indicator, driven by the agent.

    Build it in the thread that will call ``run`` (the main thread).

    Parameters
    ----------
    lang
        ``"de"`` or ``"en"``; every text comes from the catalog.
    control
        Called when the customer ends the session (indicator's "Beenden"),
        stops the screen view (indicator's "Bildschirm-Freigabe beenden"),
        or quits (main window's "Beenden", closing it, Ctrl-C).
    audit_path
        The log "Protokoll öffnen" shows; the button is disabled without one.
        The UI never writes the log (wrap it in ``AuditedUI`` for that).
    screen_name
        X display to use instead of ``$DISPLAY``.
    on_retry
        Called by "Erneut versuchen", which the window offers while the relay
        cannot be reached; without it the window only says so.

    Raises
    ------
    ZvkdiagError
        There is no display to show the window on (fall back to the console UI).
    """

    def __init__(
        self,
        lang: str,
        control: AgentControl,
        *,
        audit_path: Path | None = None,
        screen_name: str | None = None,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self.lang = lang
        self._control = control
        self._audit_path = audit_path
        self._inbox: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._open_tickets: set[Ticket] = set()
        self._tickets_lock = threading.Lock()
        self._engineer = ""
        try:
            self.root = tk.Tk(screenName=screen_name, className="ZvkQuickSupport")
        except tk.TclError as exc:
            raise ZvkdiagError(
                f"The window cannot be shown ({exc}); start with --ui console instead."
            ) from exc
        self.fonts = theme.Fonts(self.root)
        self.main = MainWindow(
            self.root,
            lang,
            self.fonts,
            on_audit=self._open_audit if audit_path else None,
            on_quit=self._quit,
            on_retry=on_retry,
        )
        self.indicator = Indicator(
            self.root,
            lang,
            self.fonts,
            on_end=control.end_session,
            on_stop_screen=partial(control.revoke, Scope.SCREEN_VIEW),
            on_stop_control=partial(control.revoke, Scope.SCREEN_CONTROL),
        )
        self.frame = ControlFrame(self.root)
        self.marker = PointerMarker(self.root)
        self.clipboard = TkClipboard(self)
        self.dialog: ConsentDialog | None = None
        self.queue = ConsentQueue(present=self._present, dismiss=self._dismiss)
        self.root.protocol("WM_DELETE_WINDOW", self._quit)
        self.root.after(theme.POLL_MS, self._poll)
        self.root.after(theme.LIFT_MS, self._lift)

    # -- called from the agent's thread -------------------------------------------------

    async def ask(
        self,
        request: ConsentRequest,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Decision:
        """Queue the question for the Tk thread and wait for the customer's answer.

        The ``timeout`` runs from the moment the dialog is on screen, so a
        question waiting behind another does not expire unseen.  If the UI
        closes, every open question is answered DENY.

        Raises
        ------
        ProtocolError
            The request's detail cannot be shown as documented.
        """
        headline, lines = describe(request, self.lang)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        ticket = Ticket(request, headline, lines, timeout, partial(_deliver, loop, future))
        with self._tickets_lock:
            self._open_tickets.add(ticket)
        try:
            if self._closed.is_set():
                ticket.resolve(Decision.DENY)
            else:
                self._inbox.put(partial(self.queue.submit, ticket))
            return await future
        except asyncio.CancelledError:
            self._inbox.put(partial(self.queue.withdraw, ticket))
            raise
        finally:
            with self._tickets_lock:
                self._open_tickets.discard(ticket)

    def show(self, event: AgentEvent) -> None:
        """Hand ``event`` to the Tk thread; returns at once."""
        self._inbox.put(partial(self._apply, event))

    def close(self) -> None:
        """End the mainloop soon; callable from any thread.  Open questions get DENY."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._tickets_lock:
            tickets = list(self._open_tickets)
        for ticket in tickets:
            ticket.resolve(Decision.DENY)
        self._inbox.put(self._stop)

    def tell(self, line: str) -> None:
        """Add a line to the window's message area; callable from any thread."""
        self._inbox.put(partial(self.main.add_message, line))

    def bring_to_front(self) -> None:
        """Show the main window above the others (a second start asked); any thread."""
        self._inbox.put(self._front)

    def _front(self) -> None:
        self.root.deiconify()
        self.root.lift()
        with contextlib.suppress(tk.TclError):  # no focus to take without a window manager
            self.root.focus_force()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # -- the Tk thread ---------------------------------------------------------------------

    def run(self) -> None:
        """Run the Tk mainloop until the customer quits or ``close`` is called.

        In the main thread, Ctrl-C is turned into ``control.quit()`` for the
        duration (a KeyboardInterrupt inside a Tk callback would only be printed).
        """
        restore = self._catch_interrupt()
        try:
            if not self._closed.is_set():
                self.root.mainloop()
        finally:
            restore()
            self.destroy()

    def destroy(self) -> None:
        """Tear the windows down (Tk thread); ``run`` does this itself."""
        self._closed.set()
        self.queue.clear(Decision.DENY)
        with contextlib.suppress(tk.TclError):  # already destroyed
            self.root.destroy()

    def _catch_interrupt(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def on_interrupt(signum: int, frame: FrameType | None) -> None:
            self._quit()

        previous = signal.signal(signal.SIGINT, on_interrupt)

        def restore() -> None:
            signal.signal(signal.SIGINT, previous)

        return restore

    def _poll(self) -> None:
        while True:
            try:
                job = self._inbox.get_nowait()
            except queue.Empty:
                break
            try:
                job()
            except Exception:  # one bad update must not freeze the window
                log.exception("UI update failed")
        if not self._closed.is_set():
            self.root.after(theme.POLL_MS, self._poll)

    def _lift(self) -> None:
        self.frame.lift()
        self.indicator.lift()
        if self.dialog is not None:
            self.dialog.lift()
        self.root.after(theme.LIFT_MS, self._lift)

    def _stop(self) -> None:
        self.queue.clear(Decision.DENY)
        self.root.quit()

    def _quit(self) -> None:
        self._control.quit()
        self.close()

    def _present(self, ticket: Ticket) -> None:
        self.dialog = ConsentDialog(
            self.root, self.lang, self.fonts, ticket, partial(self.queue.settle, ticket)
        )

    def _dismiss(self, ticket: Ticket) -> None:
        if self.dialog is not None:
            self.dialog.destroy()
            self.dialog = None

    def _open_audit(self) -> None:
        if self._audit_path is not None:
            AuditViewer(self.root, self.lang, self.fonts, self._audit_path)

    def _apply(self, event: AgentEvent) -> None:
        lang = self.lang
        match event:
            case CodeIssued(session_id=session_id, password=password, reason=reason):
                self.main.set_code(format_id(session_id), format_password(password))
                self.main.set_status(text("status.waiting", lang))
                self._code_notice(reason)
            case FailedTry(tries_left=tries_left):
                self.main.set_notice(text("failed_try", lang, tries_left=tries_left), warning=True)
            case SessionStarted(engineer=engineer, engineer_verified=verified):
                self._engineer = engineer
                key = "engineer.verified" if verified else "engineer.unverified"
                shown = text(key, lang, engineer=engineer)
                connected = text("status.connected", lang, engineer=shown)
                self.main.set_status(connected, warning=not verified)
                self.main.add_message(text("event.session_started", lang, engineer=shown))
                self.indicator.show(engineer, verified=verified)
            case SessionEnded(reason=reason):
                self.indicator.hide()
                self.frame.hide()
                self.marker.show(None)
                self.queue.clear(Decision.DENY)
                said = _ended_key(reason)
                self.main.set_status(text(said, lang))
                self.main.add_message(text(said, lang))
            case EngineerMessage(text=said):
                line = text("message.from", lang, engineer=self._engineer or "?", text=said)
                self.main.add_message(line)
            case ScreenShared(active=active):
                self.indicator.show_screen(active)
            case ControlActive(active=active, paused=paused):
                self.indicator.show_control(active, paused=paused)
                if active:
                    self.frame.show()
                else:
                    self.frame.hide()
            case PointerShown(position=position):
                self.marker.show(position)
            case RouteChosen():
                self.main.set_notice("")
                self.main.show_retry(False)
                self.main.add_message(network_text(event, lang))
            case NetworkProblem():
                self.main.set_notice(network_text(event, lang), warning=True)
                self.main.show_retry(True)
            case ConnectionInterrupted():
                self.main.set_notice(text("net.interrupted", lang), warning=True)
                self.main.add_message(text("net.interrupted", lang))
            case ConnectionRestored():
                self.main.set_notice("")
                self.main.add_message(text("net.restored", lang))
            case SessionExpiring(minutes_left=minutes):
                notice = text("notice.max_length", lang, minutes=minutes)
                self.main.set_notice(notice, warning=True)
                self.main.add_message(notice)

    def _code_notice(self, reason: str) -> None:
        if reason == "failed-tries":
            self.main.set_notice(text("failed_try.rotated", self.lang), warning=True)
        elif reason == "start":
            self.main.set_notice("")
        else:
            self.main.set_notice(text("event.code_rotated", self.lang))


class TkClipboard:
    """The customer's text clipboard through Tk, every access on the Tk thread."""

    def __init__(self, ui: TkUI) -> None:
        self._ui = ui

    async def _on_tk(self, job: Callable[[], str]) -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()

        def run() -> None:
            try:
                result = job()
            except tk.TclError:
                result = ""  # no text on the clipboard (empty, or an image)
            loop.call_soon_threadsafe(_settle_text, future, result)

        self._ui._inbox.put(run)
        return await future

    async def get_text(self) -> str:
        return await self._on_tk(lambda: str(self._ui.root.clipboard_get()))

    async def set_text(self, value: str) -> None:
        def put() -> str:
            self._ui.root.clipboard_clear()
            self._ui.root.clipboard_append(value)
            return value

        await self._on_tk(put)


def _settle_text(future: asyncio.Future[str], value: str) -> None:
    if not future.done():
        future.set_result(value)


def _ended_key(reason: str) -> str:
    key = f"ended.{reason}"
    known = {"engineer", "customer", "network", "denied", "idle", "max-length"}
    return key if reason in known else "status.ended"


def _deliver(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Decision], d: Decision
) -> None:
    # RuntimeError: the agent's loop is gone, so nobody waits for this answer any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, d)


def _settle(future: asyncio.Future[Decision], decision: Decision) -> None:
    if not future.done():
        future.set_result(decision)
