"""zvkdiag: remote support with the customer's consent for every step.

The public API is what ``__all__`` lists; everything in underscore modules
and subpackages not re-exported here may change.  A test pins this list.
"""

from zvkdiag._errors import (
    AuthenticationFailed,
    CaseStoreError,
    CommandTimeout,
    ConnectError,
    ConsentDenied,
    InvalidCode,
    InvalidParameter,
    PeerNotFound,
    ProtocolError,
    SessionClosed,
    SessionNotOpen,
    TamperingDetected,
    TransferError,
    UnknownProbe,
    ZvkdiagError,
)
from zvkdiag._version import __version__
from zvkdiag.engineer.session import CommandResult, Session, connect, connect_async

__all__ = [
    "AuthenticationFailed",
    "CaseStoreError",
    "CommandResult",
    "CommandTimeout",
    "ConnectError",
    "ConsentDenied",
    "InvalidCode",
    "InvalidParameter",
    "PeerNotFound",
    "ProtocolError",
    "Session",
    "SessionClosed",
    "SessionNotOpen",
    "TamperingDetected",
    "TransferError",
    "UnknownProbe",
    "ZvkdiagError",
    "__version__",
    "connect",
    "connect_async",
]
