"""The public API is a contract: changing it must be a deliberate edit of this list."""

import zvkdiag

EXPECTED = {
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
    "ProxyError",
    "ProtocolError",
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
}


def test_exported_members() -> None:
    assert set(zvkdiag.__all__) == EXPECTED
    for name in zvkdiag.__all__:
        assert hasattr(zvkdiag, name)


def test_errors_form_one_hierarchy() -> None:
    for name in zvkdiag.__all__:
        obj = getattr(zvkdiag, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, zvkdiag.ZvkdiagError)
