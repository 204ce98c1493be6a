"""Consent requests, agent events and the interface every customer UI implements.

Pure data and protocols: no I/O.  The agent calls ``ConsentUI.ask`` for every
request and ``ConsentUI.show`` for everything the customer should see; the UI
calls back through ``AgentControl`` when the customer ends the session or
withdraws a permission.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "DEFAULT_TIMEOUT",
    "AgentControl",
    "AgentEvent",
    "Clipboard",
    "CodeIssued",
    "ConnectionInterrupted",
    "ConnectionRestored",
    "ConsentRequest",
    "ConsentUI",
    "ControlActive",
    "Decision",
    "EngineerMessage",
    "FailedTry",
    "PointerShown",
    "Scope",
    "ScreenShared",
    "SessionEnded",
    "SessionExpiring",
    "SessionStarted",
]

DEFAULT_TIMEOUT = 60.0
"""Seconds a question may stay unanswered before it counts as "no"."""


class Scope(enum.StrEnum):
    """What a consent covers.  ``probe`` scopes are written ``probe:<name>``."""

    SESSION = "session"
    SCREEN_VIEW = "screen.view"
    SCREEN_CONTROL = "screen.control"
    SCREEN_POINT = "screen.point"
    CLIPBOARD_SEND = "clipboard.send"
    CLIPBOARD_GET = "clipboard.get"
    PROBE = "probe"
    COMMAND = "command"
    FILE_DOWNLOAD = "file.download"
    FILE_UPLOAD = "file.upload"
    MESSAGE = "message"
    CONTINUE = "session.continue"  # "still needed?" after an idle time; never a standing grant


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    TIMEOUT = "timeout"

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


@dataclass(frozen=True)
class ConsentRequest:
    """One question to the customer.

    ``detail`` carries what the UI must show verbatim, by scope:
    session: ``{}``; command: ``{"argv": [...]}``;
    probe: ``{"probes": [{"name", "title_de", "title_en", "description_de", "description_en"}]}``;
    file.*: ``{"path": str, "size": int}``; screen.view, screen.control, screen.point:
    ``{"monitor": int}``; clipboard.send and clipboard.get: ``{"text": str}``.
    """

    scope: Scope
    engineer: str
    engineer_verified: bool = False
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CodeIssued:
    """A new ID/password pair is valid; ``reason``: start, session-ended, failed-tries, expired."""

    session_id: str
    password: str
    reason: str = "start"


@dataclass(frozen=True)
class FailedTry:
    """Someone tried a wrong password (or broke the protocol); ``tries_left`` on this password."""

    tries_left: int


@dataclass(frozen=True)
class SessionStarted:
    engineer: str
    engineer_verified: bool = False


@dataclass(frozen=True)
class SessionEnded:
    """``reason``: engineer, customer, network, denied, idle, max-length."""

    reason: str


@dataclass(frozen=True)
class EngineerMessage:
    text: str


@dataclass(frozen=True)
class ScreenShared:
    """The engineer sees the customer's screen (``active``) or no longer does.

    Shown when the first screen stream starts and when the last one ends, so
    the customer knows when to look for the "stop sharing" button.
    """

    active: bool


@dataclass(frozen=True)
class ControlActive:
    """The engineer controls mouse and keyboard (``active``), or no longer does.

    ``paused``: the customer is using their own mouse or keyboard, so the
    engineer's input waits.
    """

    active: bool
    paused: bool = False


@dataclass(frozen=True)
class PointerShown:
    """The engineer points at (x, y) of the virtual screen; ``None`` hides the marker."""

    position: tuple[int, int] | None


@dataclass(frozen=True)
class SessionExpiring:
    """The session's maximum length is near: it ends in ``minutes_left`` minutes."""

    minutes_left: int


@dataclass(frozen=True)
class RouteChosen:
    """The way to the relay now in use: ``carrier`` tcp or wss, ``proxy`` ``host:port`` or None."""

    carrier: str
    relay: str
    proxy: str | None = None


@dataclass(frozen=True)
class NetworkProblem:
    """The relay cannot be reached; the program keeps trying.

    ``kind``: unreachable, proxy-auth, proxy-refused, proxy-unreachable, untrusted,
    untrusted-proxy (TLS through ``proxy`` not trusted: an inspection), expired,
    pac-download, pac-script, pac-timeout (then ``proxy`` is the PAC file's address).
    """

    kind: str
    relay: str
    proxy: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ConnectionInterrupted:
    """The connection dropped during a session; both sides reconnect for ``grace`` seconds."""

    grace: float


@dataclass(frozen=True)
class ConnectionRestored:
    """The dropped connection is back; the session continues where it stopped."""


AgentEvent = (
    CodeIssued
    | FailedTry
    | SessionStarted
    | SessionEnded
    | EngineerMessage
    | ScreenShared
    | ControlActive
    | PointerShown
    | SessionExpiring
    | RouteChosen
    | NetworkProblem
    | ConnectionInterrupted
    | ConnectionRestored
)


class AgentControl(Protocol):
    """What a UI may ask of the agent.  Thread-safe: callable from any thread."""

    def end_session(self) -> None:
        """End the current session now (the "Beenden" button)."""

    def revoke(self, scope: Scope) -> None:
        """Withdraw a standing permission such as screen.view."""

    def quit(self) -> None:
        """End everything and stop the program (closing the main window, Ctrl-C)."""


class Clipboard(Protocol):
    """The customer's text clipboard, offered by UIs that can reach it (the Tk window)."""

    async def get_text(self) -> str:
        """The clipboard's text ("" when it holds none)."""
        ...

    async def set_text(self, value: str) -> None: ...


class ConsentUI(Protocol):
    """A customer-facing UI: Tk window, console, or a test fake."""

    async def ask(self, request: ConsentRequest, *, timeout: float = DEFAULT_TIMEOUT) -> Decision:
        """Ask the customer; one question at a time, later ones wait their turn."""
        ...

    def show(self, event: AgentEvent) -> None:
        """Tell the customer what happened.  Must not block."""
        ...
