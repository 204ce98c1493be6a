"""Requests from engineer to agent (SSH exec commands) and the agent's reply header.

Every engineer request is one SSH session channel whose exec command is a
JSON object ``{"v": 1, "op": ..., ...}`` of at most ``MAX_REQUEST`` bytes.
The agent answers with one JSON header line on stdout, ``{"ok": true, ...}``
or ``{"ok": false, "error": <kind>, "message": ...}``, then the op's payload.
"""

from __future__ import annotations

import json
from typing import Any, Final

from zvkdiag._errors import (
    CommandNotFound,
    CommandTimeout,
    ConsentDenied,
    ControlUnavailable,
    ProtocolError,
    SessionClosed,
    TransferError,
    UnknownProbe,
    ZvkdiagError,
)

__all__ = [
    "MAX_HEADER",
    "MAX_REQUEST",
    "VERSION",
    "error_header",
    "format_request",
    "ok_header",
    "parse_header",
    "parse_request",
    "raise_for_header",
]

VERSION: Final = 1
MAX_REQUEST: Final = 64 * 1024
MAX_HEADER: Final = 64 * 1024
_OP_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_.")


def format_request(op: str, params: dict[str, Any]) -> str:
    text = json.dumps({"v": VERSION, "op": op, **params}, separators=(",", ":"))
    if len(text.encode()) > MAX_REQUEST:
        raise ValueError(f"request larger than {MAX_REQUEST} bytes")
    return text


def parse_request(command: str | None) -> tuple[str, dict[str, Any]]:
    """Return (op, params) or raise ProtocolError for anything that is not a v1 request."""
    if not command or len(command.encode("utf-8", "replace")) > MAX_REQUEST:
        raise ProtocolError("empty or oversized request")
    try:
        obj = json.loads(command)
    except (ValueError, RecursionError) as exc:  # "[[[[..." nests past the recursion limit
        raise ProtocolError("the request is not JSON") from exc
    if not isinstance(obj, dict) or obj.get("v") != VERSION:
        raise ProtocolError("the request is not a zvkdiag v1 request")
    op = obj.pop("op", None)
    obj.pop("v")
    if not isinstance(op, str) or not op or not set(op) <= _OP_CHARS or len(op) > 40:
        raise ProtocolError("the request names no valid operation")
    return op, obj


def ok_header(**extra: Any) -> bytes:
    return json.dumps({"ok": True, **extra}).encode() + b"\n"


_KINDS: Final[dict[type[ZvkdiagError], str]] = {
    ConsentDenied: "consent-denied",
    UnknownProbe: "unknown-probe",
    CommandTimeout: "command-timeout",
    CommandNotFound: "command-not-found",
    ControlUnavailable: "control-unavailable",
    TransferError: "transfer",
    ProtocolError: "protocol",
}


def error_header(exc: ZvkdiagError) -> bytes:
    kind = next((k for cls, k in _KINDS.items() if isinstance(exc, cls)), "error")
    body: dict[str, Any] = {"ok": False, "error": kind, "message": str(exc)}
    if isinstance(exc, ConsentDenied):
        body["scope"] = exc.scope
    if isinstance(exc, UnknownProbe):
        body["name"], body["suggestions"] = exc.name, exc.suggestions
    return json.dumps(body).encode() + b"\n"


def parse_header(line: bytes) -> dict[str, Any]:
    if not line.endswith(b"\n"):
        raise SessionClosed("The customer's side ended the request before answering.")
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("the agent's reply header is not JSON") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("ok"), bool):
        raise ProtocolError("the agent's reply header is malformed")
    return obj


def raise_for_header(header: dict[str, Any]) -> None:
    """Turn an error header back into the exception the agent raised."""
    if header["ok"]:
        return
    message = str(header.get("message") or "the customer's side refused the request")
    kind = header.get("error")
    if kind == "consent-denied":
        raise ConsentDenied(message, scope=str(header.get("scope", "")))
    if kind == "unknown-probe":
        raise UnknownProbe(str(header.get("name", "")), _strings(header.get("suggestions")))
    if kind == "command-timeout":
        raise CommandTimeout(message)
    if kind == "command-not-found":
        raise CommandNotFound(message)
    if kind == "control-unavailable":
        raise ControlUnavailable(message)
    if kind == "transfer":
        raise TransferError(message)
    if kind == "protocol":
        raise ProtocolError(message)
    raise ZvkdiagError(message)


def _strings(value: object) -> list[str]:
    """A peer-sent list of names, or nothing if it is anything else."""
    if not isinstance(value, list):
        return []
    return [str(v)[:80] for v in value[:20]]
