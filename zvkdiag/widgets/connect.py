"""The engineer's connect panel: ID, password, case reference, Connect, a live status line.

The password is never a synced trait: the browser sends it once, as a custom
comm message, when Connect is pressed, and clears its input field.  So it is
in no widget state that JupyterLab could save into the notebook.  In the
demo the password comes from the environment (or a credentials file the
demo keeps current) and lives only in a Python attribute.

Connecting runs on a worker thread, so the kernel stays responsive while
the customer decides.  Connect works even while another cell blocks (in
:meth:`ConnectPanel.wait` or a long probe): JupyterLab 4.4+ sends widget
messages to a kernel subshell, and the panel's comm keeps that subshell
(``_routing.py``) instead of ipykernel 7.4's default of the main shell,
which would hold the click until the cell ends.  The session reports its
requests and its end through ``listeners`` and ``on_close`` on its own loop
thread; the panel turns them into status values.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import anywidget
import traitlets

from zvkdiag._errors import AlreadyConnected, ZvkdiagError
from zvkdiag.widgets._routing import answer_on_frontend_subshell
from zvkdiag.widgets.feed import ConsentFeed

if TYPE_CHECKING:
    from zvkdiag.cases import Case, CaseStore
    from zvkdiag.engineer.link import LinkState
    from zvkdiag.engineer.session import RequestEvent, Session

__all__ = ["ConnectPanel", "Status", "preset_credentials"]

log = logging.getLogger(__name__)

DEFAULT_RELAY: Final = "127.0.0.1:8340"
ENV_RELAY: Final = "ZVKDIAG_RELAY"
ENV_ENGINEER: Final = "ZVKDIAG_ENGINEER"
ENV_DEMO_ID: Final = "ZVKDIAG_DEMO_ID"
ENV_DEMO_PASSWORD: Final = "ZVKDIAG_DEMO_PASSWORD"
ENV_DEMO_CREDENTIALS: Final = "ZVKDIAG_DEMO_CREDENTIALS"
PRESET_ROTATION_WAIT: Final = 10.0  # seconds for the demo's agent to show its next password

Connector = Callable[..., "Session"]


@dataclass(frozen=True)
class Status:
    """What the status line shows: ``state`` (for colour and buttons) and ``text``."""

    state: str  # idle | connecting | connected | interrupted | closed | failed | busy
    text: str


IDLE = Status("idle", "Enter the customer's ID and password, then press Connect.")


def connecting(session_id: str, relay: str) -> Status:
    return Status(
        "connecting",
        f"Connecting to {session_id} via {relay}; waiting for the customer's consent…",
    )


def connected(session: Session) -> Status:
    platform = session.info.get("platform")
    on = f" ({platform})" if platform else ""
    return Status("connected", f"Connected to {_shown_id(session.session_id)}{on}.")


def after_request(session: Session, event: RequestEvent) -> Status:
    """The status line while connected: the latest request and its answer."""
    base = connected(session).text
    match event.state:
        case "pending":
            return Status("connected", f"{base} Waiting for the customer's answer: {event.summary}")
        case "allowed":
            return Status("connected", f"{base} Allowed: {event.summary}")
        case "denied":
            return Status("connected", f"{base} Denied: {event.summary}")
        case _:
            return Status("connected", f"{base} Failed: {event.summary}: {event.message}")


def interrupted(session: Session, since: float) -> Status:
    """The carrier dropped; the session resumes by itself (``Session.connection``)."""
    at = time.strftime("%H:%M:%S", time.localtime(since))
    return Status(
        "interrupted",
        f"Connection to {_shown_id(session.session_id)} interrupted since {at}; reconnecting"
        " (Verbindung unterbrochen – wird wiederhergestellt). Requests wait until it is back;"
        " the session ends if it does not come back in time.",
    )


def reconnected(session: Session) -> Status:
    return Status("connected", f"{connected(session).text} Reconnected (wieder verbunden).")


def closed(by: str, why: str | None = None) -> Status:
    if by == "engineer":
        return Status("closed", "Closed: you ended the session.")
    return Status(
        "closed", f"Closed: {why or 'the customer ended the session, or the connection was lost.'}"
    )


def failed(exc: BaseException) -> Status:
    return Status("failed", f"Not connected: {exc}")


def busy(session: Session) -> Status:
    """A session to the same customer is already open in this kernel: the user chooses."""
    return Status(
        "busy",
        f"A session to {_shown_id(session.session_id)} is already open in this kernel."
        " Take it over, or close it and connect again (the customer then has a new password).",
    )


def closed_existing(session_id: str) -> Status:
    return Status(
        "idle",
        f"The earlier session to {_shown_id(session_id)} is closed. The customer's program"
        " now shows a new password: enter it and press Connect.",
    )


def _shown_id(session_id: str) -> str:
    from zvkdiag.wire import codes

    with contextlib.suppress(ZvkdiagError, ValueError):
        return codes.format_id(session_id)
    return session_id


def preset_credentials() -> tuple[str, str]:
    """The demo's ID and password, or ``("", "")`` outside the demo.

    The demo keeps a private JSON file current (the agent changes its password
    after every session); the environment holds the first pair.
    """
    path = os.environ.get(ENV_DEMO_CREDENTIALS)
    if path:
        with contextlib.suppress(OSError, ValueError, TypeError):
            data = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
            return str(data["id"]), str(data["password"])
    return os.environ.get(ENV_DEMO_ID, ""), os.environ.get(ENV_DEMO_PASSWORD, "")


class ConnectPanel(anywidget.AnyWidget):
    """Connect to a customer from a notebook; the session is then ``panel.session``.

    Parameters
    ----------
    relay
        ``HOST:PORT`` of the relay; default ``$ZVKDIAG_RELAY`` or ``127.0.0.1:8340``.
    engineer
        Your name as the customer sees it; default ``$ZVKDIAG_ENGINEER``.
    case_store
        If given, Connect opens a case there (the case reference is then
        required) and the session fills it: probe tables, files, audit.
    connector
        What connects (``zvkdiag.connect``); the same keywords.

    Notes
    -----
    Press Connect, then run ``s = panel.wait()``: it blocks until the customer
    allowed the session (status line and feed keep updating meanwhile), and
    raises the attempt's error as soon as it failed.  When this kernel already
    has a session open to the same ID, the panel offers to take it over
    (:meth:`take_over`) or to close it and connect again (:meth:`close_existing`);
    it never opens a second one or leaves the first without a handle.
    """

    _esm = pathlib.Path(__file__).parent / "static" / "connect.js"
    _css = pathlib.Path(__file__).parent / "static" / "connect.css"

    session_id = traitlets.Unicode("").tag(sync=True)
    reference = traitlets.Unicode("").tag(sync=True)
    engineer = traitlets.Unicode("").tag(sync=True)
    relay = traitlets.Unicode("").tag(sync=True)
    state = traitlets.Unicode(IDLE.state).tag(sync=True)
    status = traitlets.Unicode(IDLE.text).tag(sync=True)
    password_preset = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        *,
        relay: str | None = None,
        engineer: str | None = None,
        reference: str = "",
        case_store: CaseStore | None = None,
        connector: Connector | None = None,
    ) -> None:
        preset_id, preset_password = preset_credentials()
        super().__init__(
            relay=relay or os.environ.get(ENV_RELAY) or DEFAULT_RELAY,
            engineer=engineer if engineer is not None else os.environ.get(ENV_ENGINEER, ""),
            reference=reference,
            session_id=preset_id,
            password_preset=bool(preset_password),
        )
        self._case_store = case_store
        self._connector = connector
        self._case: Case | None = None
        self._session: Session | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._attempt: threading.Thread | None = None
        self._existing: Session | None = None
        self.feed = ConsentFeed()
        self.on_msg(self._on_custom_msg)
        answer_on_frontend_subshell(self)

    # -- what the next cell uses ------------------------------------------------------

    @property
    def session(self) -> Session | None:
        """The open session, or None (not connected yet, or closed)."""
        session = self._session
        return session if session is not None and not session.closed else None

    @property
    def error(self) -> BaseException | None:
        """Why the last attempt failed (None after a success)."""
        return self._error

    def wait(self, timeout: float | None = None) -> Session:
        """Block until a session is open and return it.

        Raises the panel's error (``PeerNotFound``, ``AuthenticationFailed``,
        ``ConsentDenied``, ``ValueError`` for a missing entry, …) as soon as
        the attempt has failed, or at once when the last attempt failed;
        correct the entry, press Connect again and wait again.  Before the
        first Connect, while connecting, and while the panel asks what to do
        with an open session to the same ID, it waits (``TimeoutError`` after
        ``timeout`` seconds).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while (session := self.session) is None:
                if self.state == "failed" and self._error is not None:
                    raise self._error
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"No session within {timeout} s ({self.status}).")
                self._ready.wait(left)
        return session

    def connect(self, password: str | None = None) -> None:
        """Press Connect from Python (``password`` defaults to the demo's); returns at once."""
        self._start(password or "", self.session_id, self.reference, self.engineer, self.relay)

    def take_over(self) -> Session | None:
        """Use the session to the same ID that is already open in this kernel."""
        with self._lock:
            existing, self._existing = self._existing, None
            if existing is None or existing.closed:
                self._fail(ValueError("That session has ended meanwhile; press Connect again."))
                return None
        self._opened(existing)
        return existing

    def close_existing(self) -> None:
        """Close the open session to the same ID, then connect again (on a worker thread).

        Closing changes the customer's password: in the demo the panel picks up
        the new one and connects again; otherwise it asks for it.
        """
        with self._lock:
            existing, self._existing = self._existing, None
            if existing is None:
                return
            self._show(Status("connecting", "Closing the earlier session…"))
        threading.Thread(
            target=self._reconnect_after, args=(existing,), name="zvkdiag-close", daemon=True
        ).start()

    def _reconnect_after(self, existing: Session) -> None:
        _, before = preset_credentials()
        with contextlib.suppress(ZvkdiagError):  # going down anyway: closed either way
            existing.close()
        fresh = self._fresh_preset(existing.session_id, before)
        with self._ready:
            self._show(closed_existing(existing.session_id))
            self._ready.notify_all()
        if fresh:
            self._start(fresh, self.session_id, self.reference, self.engineer, self.relay)

    def _fresh_preset(self, session_id: str, before: str) -> str:
        """The demo's next password once it replaced ``before`` (empty outside the demo)."""
        deadline = time.monotonic() + PRESET_ROTATION_WAIT
        while before and time.monotonic() < deadline:
            fresh = self._preset_password(session_id)
            if fresh and fresh != before:
                return fresh
            time.sleep(0.05)
        return ""

    def disconnect(self) -> None:
        """End the session (on a worker thread; the status line follows)."""
        session = self._session
        if session is not None and not session.closed:
            threading.Thread(target=session.close, name="zvkdiag-disconnect", daemon=True).start()

    # -- from the browser ----------------------------------------------------------------

    def _on_custom_msg(
        self, _widget: object, content: dict[str, Any], _buffers: list[bytes]
    ) -> None:
        kind = content.get("type")
        if kind == "connect":
            self._start(
                str(content.get("password", "")),
                str(content.get("session_id", self.session_id)),
                str(content.get("reference", self.reference)),
                str(content.get("engineer", self.engineer)),
                str(content.get("relay", self.relay)),
            )
        elif kind == "disconnect":
            self.disconnect()
        elif kind == "take-over":
            self.take_over()
        elif kind == "close-existing":
            self.close_existing()

    # -- connecting ------------------------------------------------------------------------

    def _start(
        self, password: str, session_id: str, reference: str, engineer: str, relay: str
    ) -> None:
        with self._lock:
            if self.state in ("connecting", "busy") or self.session is not None:
                return  # one session per panel at a time
            self.set_trait("session_id", session_id.strip())
            self.set_trait("reference", reference.strip())
            self.set_trait("engineer", engineer.strip())
            self.set_trait("relay", relay.strip())
            password = password.strip() or self._preset_password(self.session_id)
            problem = self._missing(password)
            if problem:
                self._fail(ValueError(problem), Status("failed", problem))
                return
            if (existing := self._open_to(self.session_id)) is not None:
                self._ask_about(existing)
                return
            self._show(connecting(self.session_id, self.relay))
            self._attempt = threading.Thread(
                target=self._run_attempt,
                args=(password, self.session_id, self.engineer, self.relay, self.reference),
                name="zvkdiag-connect",
                daemon=True,
            )
            self._attempt.start()

    def _missing(self, password: str) -> str:
        if not self.session_id:
            return "Enter the customer's ID."
        if not password:
            return "Enter the customer's password."
        if not self.engineer:
            return "Enter your name: the customer sees it before saying yes."
        if self._case_store is not None and not self.reference:
            return "Enter the case reference (ticket number)."
        return ""

    def _preset_password(self, session_id: str) -> str:
        preset_id, preset_password = preset_credentials()
        same = "".join(preset_id.split()) == "".join(session_id.split())
        return preset_password if same else ""

    def _run_attempt(
        self, password: str, session_id: str, engineer: str, relay: str, reference: str
    ) -> None:
        try:
            case = self._case_for(reference, engineer)
            session = self._connect(session_id, password, relay=relay, engineer=engineer, case=case)
        except AlreadyConnected as exc:  # opened elsewhere since Connect was pressed
            with self._lock:
                self._ask_about(exc.session)
            return
        except Exception as exc:  # every failure is shown; unexpected ones logged too
            if not isinstance(exc, ZvkdiagError | ValueError):
                log.exception("connecting failed")
            with self._lock:
                self._fail(exc)
            return
        self._opened(session)

    def _fail(self, exc: BaseException, status: Status | None = None) -> None:
        """Show why the attempt failed and wake ``wait`` (caller holds the lock)."""
        self._error = exc
        self._show(status or failed(exc))
        self._ready.notify_all()

    def _ask_about(self, existing: Session) -> None:
        """Offer take-over or close-and-reconnect (caller holds the lock)."""
        self._existing = existing
        self._show(busy(existing))
        self._ready.notify_all()

    @staticmethod
    def _open_to(session_id: str) -> Session | None:
        from zvkdiag.engineer import registry
        from zvkdiag.wire import codes

        try:
            return registry.find(codes.normalise_id(session_id))
        except ZvkdiagError:
            return None  # not an ID at all: the attempt itself says so

    def _connect(self, session_id: str, password: str, **kwargs: Any) -> Session:
        if self._connector is not None:
            return self._connector(session_id, password, **kwargs)
        from zvkdiag.engineer.connect import connect

        return connect(session_id, password, **kwargs)

    def _case_for(self, reference: str, engineer: str) -> Case | None:
        """One case per panel, created at the first attempt and kept across retries."""
        if self._case_store is None:
            return None
        if self._case is None:
            self._case = self._case_store.new_case(reference=reference, engineer=engineer)
        return self._case

    def _opened(self, session: Session) -> None:
        from zvkdiag.engineer.session import RequestEvent

        self.feed.add(RequestEvent(1, "session", "session", "allowed"))
        self.feed.attach(session)
        session.listeners.append(lambda event: self._on_request(session, event))
        session.on_close.append(lambda by: self._on_close(by, session))
        session.subscribe(lambda state: self._on_link(session, state))
        with self._ready:
            self._session, self._error = session, None
            self._show(connected(session))
            self._ready.notify_all()
        if session.closed:  # ended before on_close was in place
            self._on_close("peer", session)

    def _on_request(self, session: Session, event: RequestEvent) -> None:
        with self._lock:
            if self._session is session and not session.closed and self.state != "interrupted":
                self._show(after_request(session, event))

    def _on_link(self, session: Session, state: LinkState) -> None:
        with self._lock:
            if self._session is not session or state.phase == "ended":
                return  # the end is told by on_close, with the session's reason
            if state.phase == "interrupted":
                self._show(interrupted(session, state.since))
            else:
                self._show(reconnected(session))

    def _on_close(self, by: str, session: Session) -> None:
        with self._lock:
            self._show(closed(by, session.end_reason))
            self._ready.notify_all()

    def _show(self, status: Status) -> None:
        """Set state and text together (caller holds the lock; any thread)."""
        with self.hold_sync():
            self.state = status.state
            self.status = status.text

    def __repr__(self) -> str:
        return f"<ConnectPanel {self.state}: {self.status}>"
