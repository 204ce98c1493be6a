"""zvkdiag: remote support with the customer's consent for every step.

The public API is what ``__all__`` lists; everything in underscore modules
and subpackages not re-exported here may change.  A test pins this list.
"""

from typing import TYPE_CHECKING, Any

from zvkdiag._errors import (
    AlreadyConnected,
    AuthenticationFailed,
    CaseStoreError,
    CommandNotFound,
    CommandTimeout,
    ConnectError,
    ConsentDenied,
    ControlUnavailable,
    InvalidCode,
    InvalidParameter,
    PacError,
    PeerNotFound,
    ProtocolError,
    ProxyError,
    RelayBackoff,
    SessionClosed,
    SessionNotOpen,
    TamperingDetected,
    TransferError,
    UnknownProbe,
    UntrustedCertificate,
    ZvkdiagError,
)
from zvkdiag._version import __version__

if TYPE_CHECKING:
    from zvkdiag.engineer.connect import connect, connect_async
    from zvkdiag.engineer.session import CommandResult, Session

_LAZY = {"CommandResult", "Session", "connect", "connect_async"}


def sessions() -> list["Session"]:
    """The sessions this process (the notebook's kernel) holds open, oldest first.

    A session leaves the list when it is closed or lost; at interpreter exit
    every one still listed is closed.
    """
    from zvkdiag.engineer import registry

    return registry.sessions()


def __getattr__(name: str) -> Any:
    # The engineer's side pulls in asyncssh, pandas and friends; the relay and the
    # customer's agent import this package too and should not pay for that.
    if name in _LAZY:
        from zvkdiag.engineer import connect, session

        return getattr(connect if name.startswith("connect") else session, name)
    raise AttributeError(f"module 'zvkdiag' has no attribute {name!r}")


__all__ = [
    "AlreadyConnected",
    "AuthenticationFailed",
    "CaseStoreError",
    "CommandNotFound",
    "CommandResult",
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
    "Session",
    "SessionClosed",
    "SessionNotOpen",
    "TamperingDetected",
    "TransferError",
    "UnknownProbe",
    "UntrustedCertificate",
    "ZvkdiagError",
    "__version__",
    "connect",
    "connect_async",
    "sessions",
]
