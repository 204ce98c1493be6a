"""The PAKE exchange on a paired socket, for both roles (thin I/O over wire.pake).

engineer                                   customer
  PAKE(A)              ───────▶  ◀───────  PAKE(B)
  CONFIRM(A) SEALED(A: client key, name) ─▶     verify A, else FAIL(tries left)
                       ◀──────── CONFIRM(B) SEALED(B: host key)
Each side then pins the key the other sealed; SSH starts on the same socket.
"""

from __future__ import annotations

import asyncio
import socket
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import asyncssh

from zvkdiag._errors import AuthenticationFailed, ProtocolError, TamperingDetected
from zvkdiag._sockio import recv_frame, send_all
from zvkdiag.trust.verify import NotVerified
from zvkdiag.wire import frames
from zvkdiag.wire.frames import FrameType
from zvkdiag.wire.pake import Pake

__all__ = ["EXCHANGE_TIMEOUT", "EngineerHello", "customer_exchange", "engineer_exchange"]

EXCHANGE_TIMEOUT: Final = 10.0
MAX_NAME: Final = 80


@dataclass(frozen=True)
class EngineerHello:
    """What the engineer sealed for the customer."""

    ssh_key: str
    name: str
    certificate: str | None = None
    verified: bool = False


def clean_name(name: object) -> str:
    """A display name safe to show: printable, one line, bounded."""
    text = "".join(ch for ch in str(name) if unicodedata.category(ch)[0] not in "C").strip()
    return text[:MAX_NAME] or "?"


def _expect(kind: FrameType, got: FrameType) -> None:
    if got is not kind:
        raise ProtocolError(f"expected a {kind.name} frame, got {got.name}")


def _str_field(obj: dict[str, object], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or len(value) > 2048:
        raise ProtocolError(f"sealed message lacks a valid {key!r}")
    return value


def _ssh_key_field(obj: dict[str, object]) -> str:
    """One OpenSSH public key line, checked here so SSH setup never sees garbage."""
    value = _str_field(obj, "ssh_key")
    try:
        if "\n" in value or "\r" in value:
            raise ValueError("more than one line")
        asyncssh.import_public_key(value)
    except ValueError as exc:  # asyncssh.KeyImportError is a ValueError
        raise ProtocolError("the sealed message carries no valid SSH public key") from exc
    return value


async def engineer_exchange(
    sock: socket.socket,
    session_id: str,
    password: str,
    *,
    hello: EngineerHello,
    on_resume_key: Callable[[bytes], None] | None = None,
) -> str:
    """Run the engineer's side; return the customer's SSH host key (OpenSSH text).

    ``on_resume_key`` receives the session's resumption key once the peer proved itself.
    """
    async with asyncio.timeout(EXCHANGE_TIMEOUT):
        pake = Pake("engineer", session_id, password)
        await send_all(sock, frames.encode(FrameType.PAKE, pake.message()))
        kind, payload = await recv_frame(sock)
        _raise_if_fail(kind, payload)
        _expect(FrameType.PAKE, kind)
        pake.receive(payload)
        sealed = pake.seal(
            {"ssh_key": hello.ssh_key, "name": hello.name, "cert": hello.certificate}
        )
        await send_all(
            sock,
            frames.encode(FrameType.CONFIRM, pake.confirmation())
            + frames.encode(FrameType.SEALED, sealed),
        )
        kind, payload = await recv_frame(sock)
        _raise_if_fail(kind, payload)
        _expect(FrameType.CONFIRM, kind)
        if not pake.verify_confirmation(payload):
            raise TamperingDetected(
                "The other side could not prove it knows the password, yet did not report a "
                "wrong password: someone between you and the customer is interfering."
            )
        kind, payload = await recv_frame(sock)
        _expect(FrameType.SEALED, kind)
        host_key = _ssh_key_field(pake.open(payload))
        if on_resume_key is not None:
            on_resume_key(pake.resume_key)
        return host_key


def _raise_if_fail(kind: FrameType, payload: bytes) -> None:
    if kind is not FrameType.FAIL:
        return
    reason, tries_left = frames.parse_fail(payload)
    if reason == "auth-failed":
        left = "" if tries_left is None else f" {tries_left} tries left with this password."
        raise AuthenticationFailed(
            f"The password is wrong.{left} Ask the customer to read ID and password again.",
            tries_left=tries_left,
        )
    if reason == "not-verified":
        raise AuthenticationFailed(
            "The customer's program accepts only engineers with a valid certificate from the "
            "organisation: connect with identity= (see 'zvkdiag ca issue'), or renew it.",
            tries_left=None,
        )
    if reason == "tampered":
        raise TamperingDetected(
            "The customer's side found the key exchange altered on the way: "
            "someone between you and the customer changed the connection."
        )
    raise ProtocolError(f"the customer's side ended the handshake: {reason}")


async def customer_exchange(
    sock: socket.socket,
    session_id: str,
    password: str,
    *,
    host_key: str,
    on_failure: Callable[[], int],
    vet: Callable[[EngineerHello], EngineerHello] = lambda hello: hello,
    on_resume_key: Callable[[bytes], None] | None = None,
) -> EngineerHello:
    """Run the customer's side; ``on_failure`` counts a failed try and returns tries left.

    ``on_resume_key`` receives the session's resumption key once the peer proved itself.
    """
    async with asyncio.timeout(EXCHANGE_TIMEOUT):
        pake = Pake("customer", session_id, password)
        await send_all(sock, frames.encode(FrameType.PAKE, pake.message()))
        kind, payload = await recv_frame(sock)
        _expect(FrameType.PAKE, kind)
        pake.receive(payload)
        kind, payload = await recv_frame(sock)
        _expect(FrameType.CONFIRM, kind)
        if not pake.verify_confirmation(payload):
            tries_left = on_failure()
            await send_all(
                sock, frames.encode(FrameType.FAIL, frames.fail_payload("auth-failed", tries_left))
            )
            raise AuthenticationFailed("wrong password", tries_left=tries_left)
        kind, payload = await recv_frame(sock)
        _expect(FrameType.SEALED, kind)
        try:
            obj = pake.open(payload)
        except TamperingDetected:
            await send_all(
                sock, frames.encode(FrameType.FAIL, frames.fail_payload("tampered", None))
            )
            raise
        cert = obj.get("cert")
        hello = EngineerHello(
            ssh_key=_ssh_key_field(obj),
            name=clean_name(_str_field(obj, "name")),
            certificate=cert if isinstance(cert, str) and len(cert) < 4096 else None,
        )
        try:
            hello = vet(hello)
        except NotVerified:
            on_failure()  # the password reached someone the organisation does not vouch for
            await send_all(
                sock, frames.encode(FrameType.FAIL, frames.fail_payload("not-verified", None))
            )
            raise
        await send_all(
            sock,
            frames.encode(FrameType.CONFIRM, pake.confirmation())
            + frames.encode(FrameType.SEALED, pake.seal({"ssh_key": host_key})),
        )
        if on_resume_key is not None:
            on_resume_key(pake.resume_key)
        return hello
