"""One exception hierarchy for everything zvkdiag raises.

Every message is written for the support engineer (or the customer) who reads
it, not for the developer.  asyncssh, spake2 and OS errors are translated at
the boundary with ``raise ... from exc`` so the cause stays visible::

    ZvkdiagError
    ├── InvalidCode            the ID or password cannot be one zvkdiag issued
    ├── ConnectError           the relay or agent address could not be reached
    │   ├── RelayBackoff       the relay holds back tries for now (``retry_after`` seconds)
    │   ├── ProxyError         the company's HTTP proxy refused, wanted a login, or was not there
    │   ├── PacError           the proxy configuration file (PAC) could not be loaded or run
    │   └── UntrustedCertificate  the relay's TLS certificate is not trusted by this PC
    ├── PeerNotFound           the relay knows no customer with that ID
    ├── AuthenticationFailed   the password was wrong (``tries_left`` says how often more)
    ├── ProtocolError          the peer or something in between sent what v1 does not allow
    │   └── TamperingDetected  the stream was changed on the way (keys or bytes)
    ├── ConsentDenied          the customer said no, or did not answer in time
    ├── SessionClosed          the peer or the network ended the session
    │   └── ResumeBufferFull   the peer stopped confirming; too much was kept for a resumption
    ├── SessionNotOpen         *we* closed the session and then used it
    ├── AlreadyConnected       this process already has a session open to that customer
    ├── CommandTimeout         a command ran longer than its timeout
    ├── CommandNotFound        the customer's PC has no program of that name
    ├── UnknownProbe           no probe of that name (``suggestions`` lists close names)
    ├── InvalidParameter       a probe parameter is unknown or out of bounds (``parameter``)
    ├── TransferError          a file transfer failed or was refused
    ├── ControlUnavailable     remote control cannot work on this desktop (Wayland, no display)
    ├── CaseStoreError         a case folder or table is missing or invalid
    └── RelaySetupError        the relay cannot start as configured (``path`` names the file)

``SessionClosed`` (the other side broke it) and ``SessionNotOpen`` (we closed
it) are kept apart on purpose, as trio does with ``BrokenResourceError`` and
``ClosedResourceError``: the first is news, the second is a bug in the caller.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyConnected",
    "AuthenticationFailed",
    "CaseStoreError",
    "CommandNotFound",
    "CommandTimeout",
    "ConnectError",
    "ConsentDenied",
    "ControlUnavailable",
    "InvalidCode",
    "InvalidParameter",
    "PacError",
    "PeerNotFound",
    "ProtocolError",
    "ProxyError",
    "RelayBackoff",
    "RelaySetupError",
    "ResumeBufferFull",
    "SessionClosed",
    "SessionNotOpen",
    "TamperingDetected",
    "TransferError",
    "UnknownProbe",
    "UntrustedCertificate",
    "ZvkdiagError",
]


class ZvkdiagError(Exception):
    """Base class of every error zvkdiag raises on purpose."""


class InvalidCode(ZvkdiagError, ValueError):
    """An ID or password that zvkdiag could never have issued (checked before any try)."""


class ConnectError(ZvkdiagError):
    """The relay or the agent could not be reached at ``address``."""

    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.address = address


class RelayBackoff(ConnectError):
    """The relay refuses tries from this address for ``retry_after`` more seconds.

    It does so after failed passwords for the same ID (``reason`` ``backoff``),
    after too many IDs nobody holds (``reason`` ``rate-limited``), or while it
    is being replaced (``reason`` ``draining``, ``retry_after`` 0: the
    engineer's side already tried its successor once); waiting that long and
    trying again is all it takes.
    """

    def __init__(self, message: str, *, address: str, retry_after: float, reason: str) -> None:
        super().__init__(message, address=address)
        self.retry_after = retry_after
        self.reason = reason


class ProxyError(ConnectError):
    """The HTTP proxy at ``proxy`` did not open the way to ``address``.

    ``reason``: ``auth`` (407: no or wrong login), ``refused`` (403 or another
    status), ``unreachable`` (no answer on the proxy's port), ``bad-answer``
    (not HTTP). ``status`` is the proxy's HTTP status when it sent one.
    """

    def __init__(
        self, message: str, *, address: str, proxy: str, reason: str, status: int | None = None
    ) -> None:
        super().__init__(message, address=address)
        self.proxy = proxy
        self.reason = reason
        self.status = status


class PacError(ConnectError):
    """The proxy auto-configuration file at ``pac`` did not say which proxy to use.

    ``reason``: ``download`` (the file could not be fetched), ``script`` (its
    ``FindProxyForURL`` threw, or the file is not a PAC script), ``timeout`` (it
    ran longer than allowed, e.g. a loop), ``answer`` (it named no proxy we can
    use, e.g. only SOCKS). ``pac`` is the file's address without a password.
    """

    def __init__(self, message: str, *, address: str, pac: str, reason: str) -> None:
        super().__init__(message, address=address)
        self.pac = pac
        self.reason = reason


class UntrustedCertificate(ConnectError):
    """The TLS certificate shown for ``address`` did not verify against this PC's trust store.

    Either the relay's certificate is wrong or expired, or something in between
    (a company's TLS inspection whose CA this PC does not trust) answered instead.
    ``detail`` is OpenSSL's (or the OS's) reason; ``proxy`` the proxy the TLS
    went through ("" when direct), the likely place of an inspection.
    """

    def __init__(self, message: str, *, address: str, detail: str, proxy: str = "") -> None:
        super().__init__(message, address=address)
        self.detail = detail
        self.proxy = proxy


class PeerNotFound(ZvkdiagError):
    """The relay has no customer waiting under this ID."""


class AuthenticationFailed(ZvkdiagError):
    """The password did not match; ``tries_left`` is None when the customer did not say."""

    def __init__(self, message: str, *, tries_left: int | None = None) -> None:
        super().__init__(message)
        self.tries_left = tries_left


class ProtocolError(ZvkdiagError):
    """The other side, or something in between, broke wire protocol v1."""


class TamperingDetected(ProtocolError):
    """The bytes or keys were changed between engineer and customer."""


class ConsentDenied(ZvkdiagError):
    """The customer declined (or let the question time out) for ``scope``."""

    def __init__(self, message: str, *, scope: str) -> None:
        super().__init__(message)
        self.scope = scope


class SessionClosed(ZvkdiagError):
    """The customer, the relay or the network ended the session."""


class ResumeBufferFull(SessionClosed):
    """More bytes wait for the peer's confirmation than a resumption may keep."""


class SessionNotOpen(ZvkdiagError):
    """This side closed the session earlier and then tried to use it."""


class ControlUnavailable(ZvkdiagError):
    """Remote control cannot work on the customer's desktop (the message says why)."""


class AlreadyConnected(ZvkdiagError):
    """This process already has an open session to that customer (``session``).

    The customer's program serves one engineer at a time, so a second connect
    could only fail; the open session is named so it is never left orphaned.
    """

    def __init__(self, session: Any) -> None:
        super().__init__(
            f"A session to {_spaced(session.session_id)} is already open in this kernel"
            " (see zvkdiag.sessions()): use it, or close it and connect again with the"
            " customer's new password."
        )
        self.session = session


def _spaced(session_id: str) -> str:
    return " ".join(session_id[i : i + 3] for i in range(0, len(session_id), 3))


class CommandTimeout(ZvkdiagError):
    """A command on the customer's PC ran past its timeout and was stopped."""


class CommandNotFound(ZvkdiagError):
    """The program named by ``argv[0]`` does not exist (or cannot be executed) on the customer's PC.

    A shell would report exit status 127; ``Session.run`` raises this instead so a
    typo is never mistaken for a command that ran and failed.
    """


class UnknownProbe(ZvkdiagError, KeyError):
    """No probe has this name; ``suggestions`` lists close names."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"There is no probe named {name!r}.{hint}")
        self.name = name
        self.suggestions = suggestions

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0])


class InvalidParameter(ZvkdiagError, ValueError):
    """A probe parameter the probe does not accept, or a value outside its bounds."""

    def __init__(self, message: str, *, parameter: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class TransferError(ZvkdiagError):
    """A file transfer was refused or broke off; no partial file was left behind."""


class CaseStoreError(ZvkdiagError):
    """A case folder, table or query in the case store is missing or invalid."""


class RelaySetupError(ZvkdiagError):
    """The relay cannot start (or reload) as configured: a file, an address, a shard map.

    ``path`` names the file at fault when there is one.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
