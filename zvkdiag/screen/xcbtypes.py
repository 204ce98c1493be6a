"""ctypes mirrors of the few libxcb structures ``damage`` and ``pointer`` use.

One definition each: a function declared with one ``Cookie`` class rejects an
instance of another, so both modules share these.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Sequence
from typing import Any, ClassVar

__all__ = [
    "Cookie",
    "ExtensionReply",
    "Rectangle",
    "ReplyHead",
    "ScreenIterator",
    "extension",
    "load",
]


class Cookie(ctypes.Structure):
    _fields_ = (("sequence", ctypes.c_uint),)


class Rectangle(ctypes.Structure):
    _fields_ = (
        ("x", ctypes.c_int16),
        ("y", ctypes.c_int16),
        ("width", ctypes.c_uint16),
        ("height", ctypes.c_uint16),
    )


class ScreenIterator(ctypes.Structure):
    _fields_ = (("data", ctypes.c_void_p), ("rem", ctypes.c_int), ("index", ctypes.c_int))


class ReplyHead(ctypes.Structure):
    """The first 8 bytes of every X reply; subclasses add their own fields after it."""

    _fields_: ClassVar[Sequence[tuple[str, Any]]] = (
        ("response_type", ctypes.c_uint8),
        ("pad0", ctypes.c_uint8),  # some replies keep a value here
        ("sequence", ctypes.c_uint16),
        ("length", ctypes.c_uint32),
    )


class ExtensionReply(ReplyHead):
    _fields_ = (
        ("present", ctypes.c_uint8),
        ("major_opcode", ctypes.c_uint8),
        ("first_event", ctypes.c_uint8),
        ("first_error", ctypes.c_uint8),
    )


def load(name: str) -> Any | None:
    """``ctypes.CDLL`` of ``lib<name>``; None where it is not installed."""
    path = ctypes.util.find_library(name)
    if not path:
        return None
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None


def extension(xcb: Any, conn: int, lib: Any, symbol: str) -> ExtensionReply | None:
    """The server's answer for the extension ``lib`` names by ``symbol``; None if absent.

    ``xcb.xcb_get_extension_data`` must be declared to return ``POINTER(ExtensionReply)``.
    """
    ext = xcb.xcb_get_extension_data(conn, ctypes.addressof(ctypes.c_char.in_dll(lib, symbol)))
    if not ext or not ext.contents.present:
        return None
    reply: ExtensionReply = ext.contents
    return reply
