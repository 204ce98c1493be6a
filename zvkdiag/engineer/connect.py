"""``connect``: from an ID and a password to an open, customer-approved ``Session``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zvkdiag._errors import (
    AlreadyConnected,
    ZvkdiagError,
)
from zvkdiag.engineer import registry
from zvkdiag.engineer.dial import Identity, Target, dial_customer
from zvkdiag.engineer.link import LinkWatch
from zvkdiag.engineer.loopthread import LoopThread
from zvkdiag.engineer.shards import RelaySpec, relay_address
from zvkdiag.resume.transport import GRACE
from zvkdiag.wire import codes

if TYPE_CHECKING:
    from zvkdiag.cases import Case
from zvkdiag.engineer.session import Session

__all__ = ["connect", "connect_async"]


async def _open_session(
    target: Target,
    engineer: str,
    lt: LoopThread,
    case: Case | None = None,
    identity: str | None = None,
    proxy: str | None = None,
) -> Session:
    ident = Identity.load(identity) if identity else None
    link = LinkWatch()
    conn, watcher = await dial_customer(target, engineer, identity=ident, on_link=link.on_event)
    session = Session(
        conn,
        lt,
        session_id=target.session_id,
        engineer=engineer,
        info={},
        watcher=watcher,
        link=link,
    )
    try:
        chan = await session.open_op("session")
    except ZvkdiagError:  # ConsentDenied among them
        await session.aclose()
        raise
    chan.close()
    registry.register(session)
    session.info = {k: v for k, v in chan.header.items() if k != "ok"}
    if case is not None:
        session.case = case
        case.set_platform(session.info)
    return session


def _target(
    session_id: str,
    password: str,
    relay: RelaySpec | None,
    direct: str | None,
    engineer: str,
    proxy: str | None = None,
    pac: str | None = None,
    resume_grace: float = GRACE,
) -> Target:
    if not isinstance(engineer, str) or not engineer.strip():
        raise ValueError("engineer= must be your name as the customer will see it (not empty)")
    if (relay is None) == (direct is None):
        raise ValueError("give exactly one of relay='HOST:PORT' or direct='HOST:PORT'")
    normalised = codes.normalise_id(session_id)
    if (open_session := registry.find(normalised)) is not None:
        raise AlreadyConnected(open_session)
    address = relay_address(relay, normalised) if relay is not None else direct
    assert address is not None
    return Target(
        normalised,
        codes.normalise_password(password),
        address,
        via_relay=relay is not None,
        proxy=proxy,
        pac=pac,
        resume_grace=resume_grace,
    )


def connect(
    session_id: str,
    password: str,
    *,
    relay: RelaySpec | None = None,
    direct: str | None = None,
    engineer: str,
    case: Case | None = None,
    identity: str | None = None,
    proxy: str | None = None,
    pac: str | None = None,
    resume_grace: float = GRACE,
) -> Session:
    """Connect to a customer's agent and wait until the customer allowed the session.

    Parameters
    ----------
    session_id, password
        As the customer reads them; spaces, dashes and case do not matter.
    relay, direct
        The relay: ``HOST:PORT`` raw TCP, ``wss://HOST[:PORT]`` WebSocket over TLS, or a
        bare ``HOST`` (raw TCP on 8340, then wss on 443, then wss through the proxy).
        With several relays, ``relay`` is a shard map: ``{"1": "HOST:PORT", ...}`` or
        the path of a TOML file with those keys; the ID's first digit picks the relay.
        ``direct``: ``HOST:PORT`` of the agent itself in direct mode (exactly one of the two).
    proxy
        ``http://[user:password@]host:port`` of an HTTP proxy for wss, or ``"none"``;
        default: ``HTTPS_PROXY`` / ``NO_PROXY`` from the environment.
    pac
        URL of a proxy auto-configuration (PAC) file that names the proxy (``"none"``:
        none); on Windows the user's automatic configuration script is the default.
    resume_grace
        Seconds a session through the relay survives a dropped connection: both sides
        reconnect by themselves and SSH continues where it stopped. After that the
        session ends; 0 ends it at the first drop.  Meanwhile ``session.connection``
        says ``interrupted`` (``session.subscribe`` tells widgets), and calls made
        in the meantime wait and complete once the connection is back.
    engineer
        Your name as the customer will see it in the consent dialog; an empty
        or blank name raises ``ValueError`` before anything goes on the network.
    identity
        Path of your private key; its ``-cert.pub`` (``zvkdiag ca issue``) proves your
        name to customers whose program trusts the organisation's CA.
    case
        A ``zvkdiag.cases.Case``: probe tables, downloads and the customer's audit
        records of this session are stored in it; it is closed with the session.

    Raises
    ------
    AlreadyConnected
        This process already has an open session to that customer
        (``exc.session``): use it, or close it and connect with the new password.
    RelayBackoff
        The relay holds back tries after failed passwords (``exc.retry_after`` s).
    ConnectError
        The relay or agent cannot be reached or did not answer in time, or the
        shard map does not name the ID's shard.
    InvalidCode, PeerNotFound, AuthenticationFailed, TamperingDetected,
    ConsentDenied, SessionClosed
        ``ProxyError`` (the proxy refused or wanted a login), ``PacError`` (the PAC
        file could not be loaded, threw or ran too long) and ``UntrustedCertificate``
        (the relay's TLS certificate did not verify) are ``ConnectError`` subclasses.
    """
    target = _target(session_id, password, relay, direct, engineer, proxy, pac, resume_grace)
    lt = LoopThread()
    try:
        return lt.call(_open_session(target, engineer, lt, case, identity))
    except BaseException:
        lt.stop()
        raise


async def connect_async(
    session_id: str,
    password: str,
    *,
    relay: RelaySpec | None = None,
    direct: str | None = None,
    engineer: str,
    case: Case | None = None,
    identity: str | None = None,
    proxy: str | None = None,
    pac: str | None = None,
    resume_grace: float = GRACE,
) -> Session:
    """The async twin of ``connect`` (the session still runs on its own loop thread)."""
    target = _target(session_id, password, relay, direct, engineer, proxy, pac, resume_grace)
    lt = LoopThread()
    try:
        return await lt.acall(_open_session(target, engineer, lt, case, identity))
    except BaseException:
        lt.stop()
        raise
